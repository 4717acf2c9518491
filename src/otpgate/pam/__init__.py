"""SSH logins through PAM: the helper that checks a verification code for ``sshd``."""
