# credrotate as a container image (not built in this project's CI: it has no container engine).
#
#   docker build --build-arg CREDROTATE_GIT_COMMIT=$(git rev-parse --short=12 HEAD) -t credrotate .
#   docker run --rm credrotate --version
#
# Build stage: the locked dependency set (Cargo.lock), release profile. The image has no .git
# (see .dockerignore), so `--version` names the commit passed as a build argument, else "unknown".
FROM rust:1.89-bookworm AS build
ARG CREDROTATE_GIT_COMMIT=unknown
ENV CREDROTATE_GIT_COMMIT=${CREDROTATE_GIT_COMMIT}
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin credrotate

# Run stage: Debian slim with the CA certificates (HTTPS to the providers) and a shell (the
# schedules name the output folder after the month with `date`), running as an unprivileged
# user. Mount the output volume at /data; the root filesystem can be read-only.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 credrotate \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin credrotate \
    && install -d -o 10001 -g 10001 -m 0700 /data
COPY --from=build /src/target/release/credrotate /usr/local/bin/credrotate
USER 10001:10001
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/credrotate"]
CMD ["--help"]
