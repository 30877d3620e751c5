# One image holds every binary of the workspace; docker-compose picks one per container.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/order-service /src/target/release/inventory-service \
     /src/target/release/payment-service /src/target/release/email-service \
     /src/target/release/analytics-service /src/target/release/storefront \
     /src/target/release/migrate /usr/local/bin/
ENV HTTP_HOST=0.0.0.0 RUST_LOG=info DATA_DIR=/data
VOLUME /data
