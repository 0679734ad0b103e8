# An image for `sandbox.backend = "docker"` with the experiment environment generated code expects: the same pinned
# list scripts/setup.sh builds for the local backend (docker/sandbox-requirements.txt).
#   make sandbox-image        (builds shoal-sandbox:latest, labelled with the list's sha256)
# `backend = "auto"` picks docker only for an image whose label matches the current list.
FROM python:3.11-slim
ARG SHOAL_REQUIREMENTS_SHA256=unknown
COPY sandbox-requirements.txt /tmp/sandbox-requirements.txt
RUN pip install --no-cache-dir -r /tmp/sandbox-requirements.txt \
    && python -c "import numpy, scipy, pandas, matplotlib, sklearn, statsmodels, pyarrow, PIL" \
    && rm /tmp/sandbox-requirements.txt
LABEL shoal.sandbox.requirements=$SHOAL_REQUIREMENTS_SHA256
ENV MPLBACKEND=Agg PYTHONUNBUFFERED=1
WORKDIR /sandbox
