"""Data sets bundled with EdgeNAS (see scripts/make_mnist5k.py for provenance)."""
