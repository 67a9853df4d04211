# One image for the web app and the workers. The default build carries a CPU build of torch; a GPU
# worker's image is built with a CUDA build of torch:
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t colorreview-gpu .
# (torch's CUDA wheels bring their CUDA libraries; the host needs the NVIDIA driver and container toolkit.)
FROM python:3.11-slim
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" torch==2.14.1 torchvision==0.29.1
COPY pyproject.toml README.md ./
COPY colorreview colorreview
COPY inference inference
RUN pip install --no-cache-dir ".[s3,ops]"
COPY manage.py ./
COPY templates templates
COPY static static
COPY demo demo
RUN useradd --create-home --uid 1000 colorreview && mkdir -p /data/media /data/var && chown colorreview /data/media /data/var
ENV COLORREVIEW_VAR_DIR=/data/var
USER colorreview
EXPOSE 8000
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
