# syntax=docker/dockerfile:1
# One image for the API server, job workers and Ray nodes (docker-compose.yml, docs/deploy.md).
# Measuring devices take the slim agent image instead (Dockerfile.agent: no torch).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/edgenas
ENV PATH=/opt/edgenas/bin:$PATH
# torch's CPU build, from PyTorch's CPU index: PyPI's default wheel is a multi-GB CUDA build.
# Installed first, and alone, so that editing the code does not rebuild this layer.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
WORKDIR /src
COPY pyproject.toml README.md ./
COPY edgenas edgenas
COPY space space
COPY latency latency
COPY search search
COPY workers workers
COPY api api
RUN pip install '.[server]'

FROM ${PYTHON_IMAGE}
RUN useradd --create-home --uid 10001 edgenas \
    && mkdir /data && chown edgenas:edgenas /data
COPY --from=build /opt/edgenas /opt/edgenas
ENV PATH=/opt/edgenas/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    EDGENAS_HOST=0.0.0.0 \
    EDGENAS_DATA_DIR=/data
USER edgenas
WORKDIR /home/edgenas
EXPOSE 8000
# readiness, not just liveness: the database answers and its schema is current
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["edgenas", "serve", "--runners", "0"]
