# An Accord node image with nothing but the static binaries: no base image is
# pulled (deployment sites and CI have no container registry). Build the
# binaries first: `make image` does both.
FROM scratch
COPY bin/accordd bin/accordctl /usr/local/bin/
# Runs as root inside the container because the mounted key files are mode
# 0600 and owned by whoever made them; the deployment issue moves keys to
# secrets with the container's own user.
EXPOSE 7400 9400
ENTRYPOINT ["/usr/local/bin/accordd"]
