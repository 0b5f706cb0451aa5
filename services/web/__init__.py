"""The people's web app: users, sessions, drafts, registers and assignments."""
