"""Reading an image's bytes, one reader per format: `readers` (the `Reader` base: files,
standard input, hashing, peeking, taps), `tar` (the streaming tar reader), `compression` (magic
bytes; gzip, zstd, bzip2, xz, and the one decompressor), `lzw` (unix compress), `zipstream`
(zip in stored order, checked against its central directory), `ar` (Debian packages), `layouts`
(docker-archive and OCI layouts: which blob is which).  Nothing here knows a rule."""
