# An Accord node image with nothing but the static binaries (CGO_ENABLED=0,
# built by `make build`): no base image is pulled (deployment sites and CI
# have no container registry). `make image` builds the binaries and then the
# image, sending only this file and the two binaries as the build context.
#
# The image holds no configuration, certificates or data: docker-compose.yml
# mounts a configuration file (deploy/compose/config/), the certificates and a
# data volume, and checks health with `accordd health --config FILE`.
# accordctl is in the image too, for `docker-compose exec ua-1 accordctl ...`.
FROM scratch
COPY bin/accordd bin/accordctl /usr/local/bin/
# Runs as root inside the container because the mounted key files are mode
# 0600 and owned by whoever made them; the deployment issue moves keys to
# secrets with the container's own user.
# 7400 federation gRPC (mutual TLS), 7500 local API, 7501 registry Raft,
# 9400 metrics.
EXPOSE 7400 7500 7501 9400
ENTRYPOINT ["/usr/local/bin/accordd"]
