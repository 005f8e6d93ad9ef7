# The daemon's own image. No registry is reachable here, so it starts FROM the runtime base
# image the daemon builds itself (Node.js, npm, busybox, CA certificates): `npm run image`
# builds both. Run it with the Docker socket and the root directory mounted (the engine reaches
# the log receiver's socket, <root>/.run/logs.sock, through it), and the host reachable for the
# ports its objects publish:
#   docker run -d --name jinad -p 8000:8000 \
#     --add-host host.docker.internal:host-gateway \
#     -v /var/run/docker.sock:/var/run/docker.sock -v /tmp/jinad:/tmp/jinad jinad:<version>
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
WORKDIR /opt/jinad/daemon
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# In a container the API (and, for a Swarm's nodes, the TCP log receiver) listens beyond
# loopback (reached through published ports), objects publish on all host addresses, and the daemon reaches them through the host.
ENV JINAD_HOST=0.0.0.0 JINAD_LOGS_HOST=0.0.0.0 JINAD_PUBLISH_HOST=0.0.0.0 JINAD_REACH_HOST=host.docker.internal
EXPOSE 8000
# The daemon's bundle (src/bundle.mjs), made now so the first start does not build it.
RUN node -e "import('./src/bundle.mjs').then((m) => m.daemonBundle())"
ENTRYPOINT ["node", "src/start.mjs"]
