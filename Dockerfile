# syntax=docker/dockerfile:1
# Build stage: the Rust toolchain plus the headers samael's xmlsec feature needs.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libxmlsec1-dev libxml2-dev pkg-config libclang-dev clang \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY templates templates
COPY static static
COPY migrations migrations
RUN cargo build --release --locked --bin realmgate

# Runtime stage: only the shared libraries the binary links, CA roots for metadata URLs,
# and an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libxmlsec1 libxmlsec1-openssl libxml2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/realmgate --create-home realmgate
COPY --from=build /src/target/release/realmgate /usr/local/bin/realmgate
COPY domains /etc/realmgate/domains
ENV REALMGATE_LISTEN=0.0.0.0:8080 \
    REALMGATE_DOMAINS_DIR=/etc/realmgate/domains \
    REALMGATE_DATA_DIR=/var/lib/realmgate
USER realmgate
VOLUME /var/lib/realmgate
EXPOSE 8080
ENTRYPOINT ["realmgate"]
CMD ["serve"]
