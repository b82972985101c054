"""The light side of ``api``: what runs on a measuring device or a user's laptop.

Everything here must import with ``pip install 'edgenas[agent]'`` alone (numpy, pydantic,
httpx, typer, onnxruntime): no torch, FastAPI, SQLAlchemy, Optuna or Ray, so that a phone host
or a Jetson runs ``edgenas agent`` without the server's stack. An import-linter contract in
``pyproject.toml`` and ``tests/space_tests/test_imports.py`` check it.
"""
