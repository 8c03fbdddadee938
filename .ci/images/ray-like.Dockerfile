# A stand-in for rayproject/ray, built offline for the template's tests: user ray (uid 1000, gid 100),
# HOME /home/ray, its own Python environment first on PATH and writable by ray, uv and ray[default]
# (the dashboard and job server, as in the official images) installed.
# The wheelhouse is bind-mounted from the build context, so no wheel lands in a layer.
ARG PYTHON_IMAGE=local/python:3.11-bookworm
FROM ${PYTHON_IMAGE}
ARG RAY_VERSION
RUN useradd --uid 1000 --gid 100 --create-home --shell /bin/bash ray
USER 1000:100
ENV HOME=/home/ray \
    PATH=/home/ray/anaconda3/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /home/ray
RUN python3 -m venv /home/ray/anaconda3
RUN --mount=type=bind,source=.,target=/wheelhouse \
    pip install --no-cache-dir --no-index --find-links /wheelhouse "ray[default]==${RAY_VERSION}" uv
CMD ["/bin/bash"]
