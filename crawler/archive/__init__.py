"""The archive on disk: the folder and its one owner (folder.py's Archive), the post format and
a run's writer, atomic writes, the catalog, the lock, WARC captures, the Jekyll scaffold and
build, the git history, and the reader API for consumers.
"""
