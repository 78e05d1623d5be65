"""`dicomfab load`: a steady stream of screening studies into a target, and how long each takes
to become visible there (docs/load.md)."""
