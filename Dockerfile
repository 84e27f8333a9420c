# The inlet binary in a small image, for docker-compose.yml's scaled-out
# pipeline (one source process, engine replicas).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /inlet ./cmd/inlet

FROM gcr.io/distroless/static-debian12
COPY --from=build /inlet /inlet
ENTRYPOINT ["/inlet"]
