# sluice: PostgreSQL transaction-mode pooler and query guard.
#   docker build -t sluice .
#   docker run -p 6432:6432 -v $PWD/sluice.toml:/etc/sluice/sluice.toml:ro sluice

# ---- build: compilers and -dev packages stay in this stage
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config \
      libboost1.81-dev libssl-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libpg-query-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_TESTS=OFF \
 && cmake --build /build --target sluice -j "$(nproc)" \
 && strip --strip-debug -o /sluice /build/proxy/sluice

# ---- runtime: only the shared libraries the binary links (Boost.Asio is header-only)
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libtomlplusplus3 libspdlog1.10 libfmt9 libpg-query1504.0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system sluice \
 && useradd --system --gid sluice --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sluice \
 && mkdir -p /etc/sluice
COPY --from=build /sluice /usr/local/bin/sluice
USER sluice
EXPOSE 6432
ENTRYPOINT ["sluice"]
CMD ["--config", "/etc/sluice/sluice.toml"]
