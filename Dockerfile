# sluice: PostgreSQL transaction-mode pooler.
#   docker build -t sluice .
#   docker run -p 6432:6432 -e DATABASE_URL=postgres://user:pw@db:5432/app sluice
#   docker run -p 6432:6432 -v $PWD/sluice.toml:/etc/sluice/sluice.toml:ro sluice --config /etc/sluice/sluice.toml
# scripts/docker-smoke.sh builds this image and checks it against a throwaway PostgreSQL.

# ---- build: compilers and -dev packages stay in this stage
FROM debian:bookworm AS build
# Dependencies first: this layer is rebuilt only when this line changes.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config \
      libboost1.81-dev libssl-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libpg-query-dev libprotobuf-c-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the binary is built from (.dockerignore keeps the context to these too): a change to
# tests, docs or scripts does not rebuild it.
COPY CMakeLists.txt ./
COPY protocol/ protocol/
COPY config/ config/
COPY proxy/ proxy/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_TESTS=OFF \
 && cmake --build /build --target sluice -j "$(nproc)" \
 && strip --strip-debug -o /sluice /build/proxy/sluice

# ---- runtime: only the shared libraries the binary links (Boost.Asio is header-only)
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libtomlplusplus3 libspdlog1.10 libfmt9 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system sluice \
 && useradd --system --gid sluice --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sluice \
 && mkdir -p /etc/sluice
COPY --from=build /sluice /usr/local/bin/sluice
USER sluice
EXPOSE 6432
# Alive = sluice answers on 127.0.0.1:6432: it is sent an SSLRequest (8 bytes) and must reply 'N'
# (no TLS) or 'S'. This proves the event loop serves the protocol, not just that the kernel
# accepts connections; it does not log in or touch the upstream (a database outage is not a reason
# to restart the pooler). bash's /dev/tcp: no extra package. A configuration with another port or
# a non-loopback listen address needs its own --health-cmd.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/6432 && printf '\\0\\0\\0\\010\\004\\322\\026\\057' >&3 && IFS= read -r -n 1 -t 4 reply <&3 && [[ $reply == [NS] ]]"]
ENTRYPOINT ["sluice"]
# With DATABASE_URL alone sluice would listen on 127.0.0.1, which a published port cannot reach
# inside a container. Arguments given to `docker run` replace these: with --config, the file's
# [listen] address applies (its default is 0.0.0.0); with a postgres:// URL, add --listen 0.0.0.0.
CMD ["--listen", "0.0.0.0"]
