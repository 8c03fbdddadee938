# A benchmark image for the audit of many small files (some 50,000): a scientific Python stack
# and JupyterLab installed by pip (byte code compiled) into the Python environment at /usr/local,
# a layer per group as jupyter's docker-stacks do. Built with docker buildx; the wheels come from
# a find-links page the host serves on loopback (PIP_FIND_LINKS), as from a company's index;
# pip's settings are build arguments, so none stays in the image's environment.
ARG PYTHON_IMAGE=local/python:3.11-bookworm
FROM ${PYTHON_IMAGE}
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install numpy==2.2.6 scipy==1.16.3 pandas==2.3.2
RUN pip install scikit-learn==1.7.2 scikit-image==0.25.2 statsmodels==0.14.6 sympy==1.14.0 \
      networkx==3.6.1 astropy==8.0.2 xarray==2026.9.0 dask==2026.11.0 sqlalchemy==2.1.9
RUN pip install matplotlib==3.11.2 seaborn==0.13.2 plotly==7.1.0
RUN pip install jupyterlab==4.6.6
RUN useradd --uid 1000 --gid 100 --create-home --shell /bin/bash jovyan
USER 1000:100
WORKDIR /home/jovyan
CMD ["jupyter", "lab", "--ip=0.0.0.0"]
