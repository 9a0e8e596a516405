# The demo upstream (tests/upstream), built from the workspace.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin demo-upstream

FROM debian:bookworm-slim
COPY --from=build /src/target/release/demo-upstream /usr/local/bin/demo-upstream
EXPOSE 8081
CMD ["demo-upstream", "--port", "8081"]
