# atw served by waitress (one process, threads), everything it writes in the /data volume.
#
#   docker build -t atw .                      (add --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu
#                                               for the CPU-only PyTorch wheels: a much smaller image)
#   docker run -d -p 8080:8080 -v atw-data:/data -v /path/to/photos:/photos:ro \
#       -e ATW_API_KEY=change-me atw
#   docker exec -it <container> flask --app atw index /photos
#
# Models: put the weights files into the volume's models/ folder (/data/models) or mount them
# read-only and point ATW_YOLO_MODEL / ATW_IMAGENET_WEIGHTS at them (see README, "Labels and models").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ATW_INSTANCE_PATH=/data

RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 atw

WORKDIR /app
COPY requirements.txt ./
ARG TORCH_INDEX=
RUN if [ -n "$TORCH_INDEX" ]; then \
      pip install --index-url "$TORCH_INDEX" $(grep -E '^torch(vision)?==' requirements.txt); \
    fi \
 && pip install -r requirements.txt
COPY wsgi.py pyproject.toml ./
COPY pipelines ./pipelines
COPY atw ./atw

RUN mkdir -p /data && chown atw:atw /data
USER atw
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/static/atw.css', timeout=4)"
# 8 threads: requests that wait on the network (uploads, slow clients) do not hold a core; model
# inference uses one thread per request. --channel-timeout: idle seconds before a connection is
# closed. One process on purpose: it also runs the background upload indexer (see README).
CMD ["waitress-serve", "--host=0.0.0.0", "--port=8080", "--threads=8", "--channel-timeout=120", \
     "--call", "atw:create_app"]
