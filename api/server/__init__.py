"""The REST server: the FastAPI app, its routes, schemas, dependencies, settings, tables and
migrations, and the processes it runs beside itself (Ray, job runners, a local agent)."""
