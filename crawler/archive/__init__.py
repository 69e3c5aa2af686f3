"""The archive on disk: its layout and post format, atomic writes, the catalog, the lock, WARC
captures, the Jekyll scaffold and build, the git history, and the reader API for consumers.
"""
