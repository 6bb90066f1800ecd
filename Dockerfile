# Build
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin stummel

# Run
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/stummel stummel \
    && mkdir -p /var/lib/stummel && chown stummel /var/lib/stummel
COPY --from=build /src/target/release/stummel /usr/local/bin/stummel
USER stummel
WORKDIR /var/lib/stummel
# Production unless told otherwise: without JWT_SECRET, IDENT_SECRET and
# DEVMARKT_JWT_SECRET the container refuses to start (exit code 2, one line).
ENV NODE_ENV=production DATA_DIR=/var/lib/stummel/data PORT=8080
EXPOSE 8080
ENTRYPOINT ["stummel"]
CMD ["serve"]
