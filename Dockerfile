# The daemon's own image. No registry is reachable here, so it starts FROM the runtime base
# image the daemon builds itself (Node.js, npm, busybox, CA certificates): `npm run image`
# builds both. Run it with the Docker socket and the root directory mounted:
#   docker run -d --name jinad -p 8000:8000 -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /tmp/jinad:/tmp/jinad jinad:<version>
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
WORKDIR /opt/jinad/daemon
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# In a container the API must listen beyond loopback to be reached through the published port.
ENV JINAD_HOST=0.0.0.0
EXPOSE 8000
ENTRYPOINT ["node", "--import", "tsx", "src/main.ts"]
