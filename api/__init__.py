"""The composition root: it may import every package, and nothing imports it.

- ``api.server``: the REST server (app, routes, schemas, dependencies, migrations) and the
  processes it runs beside itself;
- ``api.cli``: the ``edgenas`` commands and the demo;
- ``api.client``: the agent's command and the HTTP client helpers, importable without torch,
  FastAPI or SQLAlchemy.
"""
