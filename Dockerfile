# The API image: `docker compose up` runs it next to PostgreSQL (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
RUN pip install . \
    && rm -rf /src \
    && useradd --create-home --uid 10001 smartvillage

USER smartvillage
WORKDIR /home/smartvillage
EXPOSE 8000

# `serve` migrates the database first, then starts uvicorn; production never loads demo
# data or demo accounts (--no-demo), and refuses to start without SMARTVILLAGE_SECRET_KEY.
CMD ["smartvillage", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-demo"]
