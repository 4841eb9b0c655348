# syntax=docker/dockerfile:1
#
# puawatch in a container: a static binary on distroless, run as the
# nonroot user (65532), the store in the volume /var/lib/puawatch.
#
#   docker build -t puawatch \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     --build-arg DATE="$(git log -1 --format=%cI)" .
#   docker run -d --name puawatch -p 127.0.0.1:9787:9787 -v puawatch:/var/lib/puawatch \
#     -e PUAWATCH_CLIENT_ID=... -e PUAWATCH_CLIENT_SECRET_FILE=/run/secrets/puawatch-client-secret \
#     -e PUAWATCH_WEB_TOKEN=... puawatch
#
# The dashboard listens on 0.0.0.0:9787 inside the container, which is not
# loopback: the daemon refuses to start without web.auth, so give it
# PUAWATCH_WEB_TOKEN (or a web.auth section in a mounted config file).
# A secret file must be private (mode 0400 or 0600), as must every file of
# a CREDENTIALS_DIRECTORY (e.g. Docker secrets named puawatch-client-secret
# ... with mode: 0400 and CREDENTIALS_DIRECTORY=/run/secrets).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
ARG DATE=""
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/puawatch ./cmd/puawatch \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/puawatch /puawatch
# The volume's mount point, owned by nonroot so that a new named volume is too.
COPY --from=build --chown=nonroot:nonroot /out/state /var/lib/puawatch
ENV STATE_DIRECTORY=/var/lib/puawatch \
    PUAWATCH_LISTEN=0.0.0.0:9787
VOLUME ["/var/lib/puawatch"]
EXPOSE 9787
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["/puawatch", "health"]
ENTRYPOINT ["/puawatch"]
CMD ["run"]
