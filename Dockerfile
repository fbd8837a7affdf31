# aza-cds under gunicorn, as a non-root user. Mount a trust file and set AZA_CDS_TRUST_FILE (every call needs a JWT).
# The image holds the wheel (with its knowledge pack inside) and the pinned, hash-checked runtime dependencies.

FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY cards ./cards
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 aza && mkdir -p /var/lib/aza-cds && chown aza /var/lib/aza-cds
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-cache-dir --no-deps /tmp/dist/aza_cds-*.whl && rm -r /tmp/dist && pip check

ENV AZA_CDS_DATA_DIR=/var/lib/aza-cds \
    AZA_CDS_HOST=0.0.0.0 \
    AZA_CDS_PORT=8080
WORKDIR /var/lib/aza-cds
USER aza
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
CMD ["aza-cds", "serve"]
