"""Applying detection to an image: `limits`, `file` (one file), `layer` (a layer's tar stream:
both planes), `nested` (archives inside files), `documents` (config, manifests, attestations),
`blobs` (one blob: classified, hashed, scanned), `parallel` (large blobs in worker processes),
`collector` (reading a source into blobs), `assembly` (from blobs to findings), `attribution`
and `dockerfile` (which layer and instruction)."""
