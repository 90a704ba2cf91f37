"""The sandboxed run: one child process per part (sandbox.py), confined by bubblewrap (bwrap.py) as an
unprivileged user (isolation.py); the child's own code is the package child/; cache.py reuses a child's
outcome for unchanged code."""
