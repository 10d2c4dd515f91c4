# Sourced by .ci/run: a Docker engine and Compose v2 for ComposeIT and KafkaContainerIT, on a
# Debian bookworm machine with no registry of container images.
#
#   docker_up     installs a Docker engine and Compose v2 from Debian trixie (bookworm has only
#                 Compose v1) and debootstrap where missing; starts dockerd (vfs storage,
#                 logging to $DOCKERD_LOG) unless an engine answers; builds the local stand-ins
#                 for the public base images (docker/stand-ins/build, cached in
#                 ~/.cache/shootdown/images); exports what Testcontainers needs without a registry.
#   docker_down   stops the dockerd that docker_up started, if it did.

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/shootdown-ci-dockerd.log}
ci_dockerd_pid=

docker_install() {
	export DEBIAN_FRONTEND=noninteractive
	local trixie=/etc/apt/sources.list.d/shootdown-ci-trixie.list pin=/etc/apt/preferences.d/shootdown-ci-trixie
	if ! command -v dockerd > /dev/null 2>&1 || ! docker compose version > /dev/null 2>&1; then
		echo "ci: installing a Docker engine and Compose v2 (trixie's docker.io, docker-cli and docker-compose)"
		# trixie's packages: these three by name (pkg/trixie), and what apt takes from trixie for them (containerd); pinned
		# below bookworm's, so nothing else moves. (-t trixie would take trixie's libc6 too; checked in a
		# bookworm container: this way libc6 stays 2.36.)
		echo "deb http://deb.debian.org/debian trixie main" > "$trixie"
		printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > "$pin"
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends docker.io/trixie docker-cli/trixie docker-compose/trixie
		rm -f "$trixie" "$pin"
		apt-get update -qq
	fi
	if ! command -v debootstrap > /dev/null 2>&1; then
		apt-get install -y -qq --no-install-recommends debootstrap
	fi
}

docker_up() {
	docker_install
	if ! docker info > /dev/null 2>&1; then
		echo "ci: starting dockerd (log: $DOCKERD_LOG)"
		dockerd --storage-driver=vfs > "$DOCKERD_LOG" 2>&1 &
		ci_dockerd_pid=$!
		local i
		for i in $(seq 60); do
			docker info > /dev/null 2>&1 && break
			kill -0 "$ci_dockerd_pid" 2> /dev/null || {
				tail -20 "$DOCKERD_LOG" >&2
				echo "ci: dockerd exited" >&2
				return 1
			}
			sleep 1
		done
		docker info > /dev/null 2>&1 || {
			tail -20 "$DOCKERD_LOG" >&2
			echo "ci: dockerd did not answer within 60 s" >&2
			return 1
		}
	fi
	docker version --format 'ci: Docker engine {{.Server.Version}}'
	docker compose version
	docker/stand-ins/build
	# Testcontainers' reaper (Ryuk) and its start-up checks run images of its own, which cannot be
	# pulled here; in a container (/.dockerenv) it would also start alpine to find the gateway.
	export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_CHECKS_DISABLE=true
	if [[ -e /.dockerenv ]]; then export TESTCONTAINERS_HOST_OVERRIDE=localhost; fi
	# In CI the Docker tests must run, never be skipped.
	export SHOOTDOWN_REQUIRE_DOCKER=1
}

docker_down() {
	if [[ -n $ci_dockerd_pid ]]; then
		kill "$ci_dockerd_pid" 2> /dev/null || true
		wait "$ci_dockerd_pid" 2> /dev/null || true
		ci_dockerd_pid=
	fi
}
