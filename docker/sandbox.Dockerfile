# An image for `sandbox.backend = "docker"` with the libraries generated experiments usually import.
#   make sandbox-image        (docker build -f docker/sandbox.Dockerfile -t shoal-sandbox:latest docker)
#   shoal --set sandbox.docker_image=shoal-sandbox:latest ...
FROM python:3.11-slim
RUN pip install --no-cache-dir numpy scipy pandas matplotlib scikit-learn \
    && python -c "import numpy, scipy, pandas, matplotlib, sklearn"
ENV MPLBACKEND=Agg PYTHONUNBUFFERED=1
WORKDIR /sandbox
