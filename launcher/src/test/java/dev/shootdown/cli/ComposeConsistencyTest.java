package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * docker/docker-compose.yml and docker/Dockerfile agree with the command they run, without a
 * Docker engine: every SHOOTDOWN_* variable a service sets is an option of the subcommand it runs,
 * the nodes name real kinds, the CPUs claim their index, everything waits for a healthy broker,
 * the job audits what it ran and exits with the audit's status, and the image runs the jar the
 * build produces, as a non-root user, with a health check on the port the nodes serve. Where a
 * {@code docker compose} exists, it validates the file too ({@link #dockerComposeAcceptsTheFile}).
 * {@link ComposeIT} runs the whole thing where a Docker engine is.
 */
class ComposeConsistencyTest {

    /** Tests run in the module directory, launcher/. */
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path DOCKER = ROOT.resolve("docker");
    static final Path COMPOSE_FILE = DOCKER.resolve("docker-compose.yml");
    static final Path DOCKERFILE = DOCKER.resolve("Dockerfile");

    private static final Set<String> NODE_SERVICES = Set.of("coordinator", "cpu", "iommu");
    private static final String JOB = "scenario";

    /** {@code java -jar JAR SUBCOMMAND ARGS}, one command of the job's script. */
    private static final Pattern JAVA_JAR = Pattern.compile("java\\s+-jar\\s+(\\S+)\\s+([a-z][a-z-]*)([^\\n;|&]*)");

    // ---------------------------------------------------------------- compose

    @Test
    void theShootdownServicesAreBuiltFromTheDockerfile() throws IOException {
        JsonNode services = compose().path("services");
        Set<String> images = new TreeSet<>();
        for (String name : shootdownServices()) {
            JsonNode build = services.path(name).path("build");
            assertTrue(build.isObject(), name + ": build: {context, dockerfile}");
            Path dockerfile = DOCKER.resolve(build.path("context").asText()).resolve(build.path("dockerfile").asText()).normalize();
            assertEquals(DOCKERFILE, dockerfile, name + ": built from docker/Dockerfile, with the repository as its context");
            assertEquals(ROOT, DOCKER.resolve(build.path("context").asText()).normalize(), name + ": the context is the repository root");
            images.add(services.path(name).path("image").asText());
        }
        assertEquals(1, images.size(), "every Shootdown service runs the one image: " + images);
        Set<String> expected = new TreeSet<>(NODE_SERVICES);
        expected.add(JOB);
        assertEquals(expected, new TreeSet<>(shootdownServices()), "the Shootdown services");
        assertTrue(services.has("kafka"), "a kafka service");
    }

    @Test
    void nodeServicesRunANodeOfEachKind() throws IOException {
        JsonNode services = compose().path("services");
        Set<String> kinds = new TreeSet<>();
        for (String name : NODE_SERVICES) {
            JsonNode service = services.path(name);
            assertTrue(service.path("entrypoint").isMissingNode(), name + ": the image's entrypoint (java -jar) runs it");
            List<String> command = strings(service.path("command"), name + ": command");
            assertEquals("node", command.get(0), name + ": runs `shootdown node`");
            List<String> positionals = checkArguments(name, subcommand("node"), command.subList(1, command.size()));
            assertEquals(1, positionals.size(), name + ": one KIND, got " + positionals);
            String kind = positionals.get(0);
            assertTrue(Arrays.stream(NodeCommand.Kind.values()).anyMatch(k -> k.name().equals(kind)),
                    name + ": '" + kind + "' is not a node kind (" + Arrays.toString(NodeCommand.Kind.values()) + ")");
            assertEquals(name, kind, "the service named " + name + " runs that kind of node");
            kinds.add(kind);
        }
        assertEquals(Arrays.stream(NodeCommand.Kind.values()).map(Enum::name).collect(Collectors.toCollection(TreeSet::new)), kinds,
                "a service for every kind of node");
    }

    @Test
    void everyShootdownVariableIsAnOptionOfTheCommandItRuns() throws IOException {
        JsonNode services = compose().path("services");
        for (String name : shootdownServices()) {
            Map<String, String> env = environment(services.path(name), name);
            List<Invocation> commands = invocations(name, services.path(name));
            assertFalse(commands.isEmpty(), name + ": runs no shootdown subcommand");
            for (String variable : env.keySet()) {
                if (!variable.startsWith("SHOOTDOWN_")) {
                    continue;
                }
                boolean used = commands.stream().anyMatch(c -> variables(c.spec()).containsKey(variable));
                assertTrue(used, name + ": " + variable + " is not an option of "
                        + commands.stream().map(c -> "`shootdown " + c.subcommand() + "`").collect(Collectors.joining(" or "))
                        + ", so it would be ignored; they take "
                        + commands.stream().flatMap(c -> variables(c.spec()).keySet().stream()).collect(Collectors.toCollection(TreeSet::new)));
            }
            for (Invocation c : commands) {
                Set<String> given = new LinkedHashSet<>(c.options());
                for (Map.Entry<String, OptionSpec> v : variables(c.spec()).entrySet()) {
                    String value = env.get(v.getKey());
                    if (value != null && !value.isEmpty()) {
                        given.add(v.getValue().longestName());
                    }
                }
                for (OptionSpec option : c.spec().options()) {
                    if (option.required()) {
                        assertTrue(given.contains(option.longestName()), name + ": `shootdown " + c.subcommand() + "` needs "
                                + option.longestName() + ", on its command line or as " + EnvDefaults.variable(option.longestName()));
                    }
                }
            }
        }
    }

    @Test
    void theCpusClaimTheirIndexAndScale() throws IOException {
        JsonNode cpu = compose().path("services").path("cpu");
        assertEquals("auto", environment(cpu, "cpu").get(EnvDefaults.variable("--index")),
                "cpu: SHOOTDOWN_INDEX: auto, so that every replica claims its own cpuN");
        assertTrue(cpu.path("deploy").path("replicas").asInt() >= 3,
                "cpu: deploy.replicas of at least 3 (the built-in scenarios use cpu0..cpu2), got " + cpu.path("deploy"));
        assertEquals("on-failure", cpu.path("restart").asText(), "cpu: restart: on-failure, so a replica that lost a race for an index tries again");
        assertTrue(cpu.path("container_name").isMissingNode(), "cpu: a container_name would forbid --scale cpu=N");
        assertTrue(cpu.path("ports").isMissingNode(), "cpu: fixed host ports would forbid --scale cpu=N");
        for (String name : List.of("coordinator", "iommu")) {
            String index = environment(compose().path("services").path(name), name).get(EnvDefaults.variable("--index"));
            assertTrue(index == null || index.equals("0"), name + ": there is one, index 0, got " + index);
        }
    }

    @Test
    void everyShootdownServiceWaitsForAHealthyBrokerAndUsesIt() throws IOException {
        JsonNode services = compose().path("services");
        JsonNode kafka = services.path("kafka");
        String test = String.join(" ", strings(kafka.path("healthcheck").path("test"), "kafka: healthcheck.test"));
        assertTrue(test.contains("kafka-topics.sh") && test.contains("--bootstrap-server localhost:9092") && test.contains("--list"),
                "kafka: a health check that lists the topics, got " + test);
        Map<String, String> kafkaEnv = environment(kafka, "kafka");
        String advertised = kafkaEnv.getOrDefault("KAFKA_ADVERTISED_LISTENERS", "");
        Matcher plaintext = Pattern.compile("PLAINTEXT://([^,]+)").matcher(advertised);
        assertTrue(plaintext.find(), "kafka: a PLAINTEXT advertised listener, got " + advertised);
        assertEquals("broker,controller", kafkaEnv.get("KAFKA_PROCESS_ROLES"), "kafka: KRaft, one node");
        for (String name : shootdownServices()) {
            assertEquals("service_healthy", services.path(name).path("depends_on").path("kafka").path("condition").asText(),
                    name + ": depends_on kafka with condition service_healthy");
            assertEquals(plaintext.group(1), environment(services.path(name), name).get("SHOOTDOWN_BOOTSTRAP_SERVERS"),
                    name + ": SHOOTDOWN_BOOTSTRAP_SERVERS is the broker's advertised listener");
        }
    }

    @Test
    void theJobWaitsForHealthyNodesAndAuditsTheLogItsRunWrote() throws IOException {
        JsonNode job = compose().path("services").path(JOB);
        assertEquals("no", job.path("restart").asText(), JOB + ": restart: \"no\", a one-shot job");
        assertTrue(job.path("healthcheck").path("disable").asBoolean(), JOB + ": healthcheck.disable: the job serves no /health");
        for (String node : NODE_SERVICES) {
            assertEquals("service_healthy", job.path("depends_on").path(node).path("condition").asText(),
                    JOB + ": depends_on " + node + " with condition service_healthy");
        }
        List<Invocation> commands = invocations(JOB, job);
        assertEquals(List.of("run", "audit"), commands.stream().map(Invocation::subcommand).toList(), JOB + ": runs, then audits");
        Invocation run = commands.get(0);
        Invocation audit = commands.get(1);
        assertEquals("cluster", run.values().get("--nodes"), JOB + ": run --nodes cluster, on the node services");
        String runOut = run.values().get("--out");
        assertNotNull(runOut, JOB + ": run --out DIR, on the command line (SHOOTDOWN_OUT would send the audit there too)");
        assertEquals(runOut + "/events.jsonl", audit.values().get("--log"), JOB + ": the audit reads the log the run wrote");
        String auditOut = audit.values().get("--out");
        assertNotNull(auditOut, JOB + ": audit --out DIR");
        assertNotEquals(runOut, auditOut, JOB + ": the audit's report does not overwrite the run's");
        List<String> mounts = new ArrayList<>();
        for (JsonNode volume : job.path("volumes")) {
            String[] parts = volume.asText().split(":");
            assertTrue(parts.length >= 2, JOB + ": volume " + volume);
            mounts.add(parts[1]);
        }
        for (String out : List.of(runOut, auditOut)) {
            assertTrue(mounts.stream().anyMatch(m -> out.startsWith(m + "/")), JOB + ": " + out + " is on a volume, so it outlives the job; mounts " + mounts);
        }
        String scenario = environment(job, JOB).get("SHOOTDOWN_SCENARIO");
        assertNotNull(scenario, JOB + ": SHOOTDOWN_SCENARIO");
        assertTrue(scenario.matches("\\$\\{[A-Z_]+:-munmap-dma}"), JOB + ": the scenario can be chosen and is munmap-dma by default, got " + scenario);
    }

    /**
     * The job's script itself, under {@code sh} with a {@code java} that only records its
     * arguments and exits as told: the audit runs after a clean run (0) and after violations (1),
     * the job exits with the audit's status, and a failed run (2, 3) is the job's status unaudited.
     */
    @Test
    void theJobAuditsAfterACleanOrViolatingRunAndExitsWithTheAuditsStatus(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/sh")), "no /bin/sh here");
        JsonNode job = compose().path("services").path(JOB);
        assertEquals(List.of("sh", "-c"), strings(job.path("entrypoint"), JOB + ": entrypoint"), JOB + ": entrypoint [sh, -c]");
        List<String> command = strings(job.path("command"), JOB + ": command");
        assertEquals(1, command.size(), JOB + ": the script is one string");
        String script = unescapeCompose(command.get(0));
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, """
                #!/bin/sh
                echo "$3" >> "$STUB_CALLS"
                case "$3" in
                  run) exit "$RUN_STATUS" ;;
                  audit) exit "$AUDIT_STATUS" ;;
                  *) exit 99 ;;
                esac
                """, StandardCharsets.UTF_8);
        assertTrue(java.toFile().setExecutable(true));
        for (int runStatus : new int[] {0, 1, 2, 3}) {
            for (int auditStatus : new int[] {0, 1, 2}) {
                Path calls = dir.resolve("calls-" + runStatus + "-" + auditStatus);
                ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", script).directory(dir.toFile()).redirectErrorStream(true)
                        .redirectOutput(dir.resolve("output").toFile());
                pb.environment().put("PATH", bin + ":" + pb.environment().getOrDefault("PATH", "/usr/bin:/bin"));
                pb.environment().put("STUB_CALLS", calls.toString());
                pb.environment().put("RUN_STATUS", Integer.toString(runStatus));
                pb.environment().put("AUDIT_STATUS", Integer.toString(auditStatus));
                Process p = pb.start();
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the script finished");
                String what = "run exits " + runStatus + ", audit would exit " + auditStatus + ": ";
                boolean audits = runStatus == 0 || runStatus == 1;
                assertEquals(audits ? List.of("run", "audit") : List.of("run"), Files.readAllLines(calls),
                        what + "the commands the job ran; output: " + Files.readString(dir.resolve("output")));
                assertEquals(audits ? auditStatus : runStatus, p.exitValue(), what + "the job's status");
            }
        }
    }

    /** {@code docker compose config -q}: the file is valid Compose, where a docker with the compose plugin exists. */
    @Test
    void dockerComposeAcceptsTheFile() throws Exception {
        Assumptions.assumeTrue(dockerComposeAvailable(), "no `docker compose` here: the file is checked by the other tests only");
        Process p = new ProcessBuilder("docker", "compose", "-f", COMPOSE_FILE.toString(), "config", "-q").redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "docker compose config finished");
        assertEquals(0, p.exitValue(), "docker compose config -q: " + output);
    }

    static boolean dockerComposeAvailable() {
        try {
            Process p = new ProcessBuilder("docker", "compose", "version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(1, TimeUnit.MINUTES) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    // ---------------------------------------------------------------- Dockerfile

    @Test
    void theImageRunsAsANonRootUser() throws IOException {
        List<Instruction> last = stages().get(stages().size() - 1);
        List<String> users = last.stream().filter(i -> i.is("USER")).map(Instruction::args).toList();
        assertFalse(users.isEmpty(), "the runtime stage sets a USER");
        String user = users.get(users.size() - 1).split(":")[0];
        assertFalse(user.equals("root") || user.equals("0"), "the runtime stage runs as " + user);
        int userAt = indexOf(last, "USER", users.size() - 1);
        assertTrue(userAt < indexOf(last, "ENTRYPOINT", 0), "USER comes before ENTRYPOINT");
        assertTrue(last.stream().anyMatch(i -> i.is("RUN") && i.args().contains("useradd") && i.args().contains(user)),
                "the runtime stage creates the user " + user);
        String workdir = last.stream().filter(i -> i.is("WORKDIR")).reduce((a, b) -> b).map(Instruction::args).orElse("/");
        assertTrue(last.stream().anyMatch(i -> i.is("RUN") && i.args().matches("(?s).*chown\\s+(-R\\s+)?" + user + "(:\\S+)?\\s+.*" + workdir + "\\b.*")),
                "the WORKDIR " + workdir + " belongs to " + user);
    }

    @Test
    void theHealthCheckAsksTheNodeOnThePortItServes() throws IOException {
        List<Instruction> last = stages().get(stages().size() - 1);
        Map<String, String> env = new LinkedHashMap<>();
        for (Instruction i : last) {
            if (i.is("ENV")) {
                for (String pair : i.args().split("\\s+")) {
                    String[] kv = pair.split("=", 2);
                    assertEquals(2, kv.length, "ENV KEY=VALUE, got " + i.args());
                    env.put(kv[0], kv[1]);
                }
            }
        }
        String http = env.get(EnvDefaults.variable("--http"));
        assertNotNull(http, "the image sets " + EnvDefaults.variable("--http"));
        assertTrue(variables(subcommand("node")).containsKey("SHOOTDOWN_HTTP"), "SHOOTDOWN_HTTP is node's --http");
        for (String variable : env.keySet()) {
            if (variable.startsWith("SHOOTDOWN_")) {
                assertTrue(variables(subcommand("node")).containsKey(variable), "the image sets " + variable + ", which is no option of `shootdown node`");
            }
        }
        Matcher hostPort = Pattern.compile("(.+):(\\d+)").matcher(http);
        assertTrue(hostPort.matches(), "SHOOTDOWN_HTTP is HOST:PORT, got " + http);
        assertEquals("0.0.0.0", hostPort.group(1), "the nodes listen on every interface, for scrapes from other containers");
        String port = hostPort.group(2);

        List<Instruction> checks = last.stream().filter(i -> i.is("HEALTHCHECK")).toList();
        assertEquals(1, checks.size(), "one HEALTHCHECK");
        Matcher url = Pattern.compile("CMD\\s+.*curl\\s.*https?://(127\\.0\\.0\\.1|localhost):(\\d+)(/\\S*)").matcher(checks.get(0).args());
        assertTrue(url.find(), "the HEALTHCHECK curls the node on loopback, got " + checks.get(0).args());
        assertEquals(port, url.group(2), "the HEALTHCHECK asks on the port SHOOTDOWN_HTTP sets");
        assertEquals("/health", url.group(3), "the HEALTHCHECK asks /health");
        assertTrue(checks.get(0).args().matches("(?s).*curl\\s+-\\S*f.*"), "curl -f, so a 503 before the node is ready fails the check");
        assertTrue(last.stream().anyMatch(i -> i.is("RUN") && i.args().matches("(?s).*apt-get\\s+install\\b.*\\bcurl\\b.*")),
                "the runtime stage installs curl");
        assertTrue(last.stream().anyMatch(i -> i.is("EXPOSE") && Arrays.asList(i.args().split("\\s+")).contains(port)), "EXPOSE " + port);
    }

    @Test
    void theEntrypointRunsTheJarTheBuildStageProduces() throws IOException {
        List<List<Instruction>> stages = stages();
        assertTrue(stages.size() >= 2, "a build stage and a runtime stage");
        List<Instruction> build = stages.get(0);
        List<Instruction> last = stages.get(stages.size() - 1);
        String buildFrom = build.get(0).args();
        Matcher named = Pattern.compile("(\\S+)\\s+(?i:as)\\s+(\\S+)").matcher(buildFrom);
        assertTrue(named.matches(), "the build stage is named: " + buildFrom);
        assertTrue(named.group(1).startsWith("maven:") && named.group(1).contains("17"), "the build stage is Maven with JDK 17: " + buildFrom);
        assertTrue(last.get(0).args().startsWith("eclipse-temurin:17-jre"), "the runtime is a Java 17 JRE: " + last.get(0).args());

        List<String> entrypoint = new ObjectMapper().readValue(
                last.stream().filter(i -> i.is("ENTRYPOINT")).reduce((a, b) -> b).orElseThrow().args(),
                new com.fasterxml.jackson.core.type.TypeReference<List<String>>() { });
        assertEquals(3, entrypoint.size(), "ENTRYPOINT [\"java\", \"-jar\", JAR] (exec form, so java gets SIGTERM)");
        assertEquals(List.of("java", "-jar"), entrypoint.subList(0, 2));
        String jar = entrypoint.get(2);

        String workdir = build.stream().filter(i -> i.is("WORKDIR")).reduce((a, b) -> b).orElseThrow().args();
        String finalName = matchOne(Files.readString(ROOT.resolve("launcher/pom.xml")), "<finalName>([^<]+)</finalName>");
        String produced = workdir + "/launcher/target/" + finalName + ".jar";
        Instruction copy = last.stream().filter(i -> i.is("COPY") && i.args().startsWith("--from=" + named.group(2) + " ")).findFirst()
                .orElseThrow(() -> new AssertionError("the runtime stage copies from the build stage " + named.group(2)));
        String[] copyArgs = copy.args().split("\\s+");
        assertEquals(produced, copyArgs[1], "the runtime stage copies the shaded jar the build writes (launcher/pom.xml finalName)");
        assertEquals(jar, copyArgs[2], "the ENTRYPOINT runs the jar copied from the build stage");
        assertTrue(build.stream().anyMatch(i -> i.is("RUN") && i.args().matches("(?s)mvn\\s.*\\bpackage\\b.*")), "the build stage runs mvn package");

        for (Invocation c : invocations(JOB, compose().path("services").path(JOB))) {
            assertEquals(jar, c.jar(), JOB + ": runs the image's jar");
        }
    }

    /** Dependencies are resolved from the poms alone, in a layer of their own: every module's pom must be there by then. */
    @Test
    void everyModulePomIsCopiedBeforeMavenFirstRuns() throws IOException {
        List<Instruction> build = stages().get(0);
        int firstMaven = -1;
        for (int i = 0; i < build.size(); i++) {
            if (build.get(i).is("RUN") && build.get(i).args().startsWith("mvn")) {
                firstMaven = i;
                break;
            }
        }
        assertTrue(firstMaven > 0, "the build stage runs mvn");
        Set<String> copied = new TreeSet<>();
        for (Instruction i : build.subList(0, firstMaven)) {
            if (i.is("COPY")) {
                String[] a = i.args().split("\\s+");
                String dest = a[a.length - 1];
                for (int s = 0; s < a.length - 1; s++) {
                    if (a[s].equals(".")) {
                        copied.add("*");
                    } else if (a[s].endsWith("pom.xml")) {
                        String expectedDest = a[s].contains("/") ? a[s].substring(0, a[s].lastIndexOf('/') + 1) : "./";
                        assertTrue(dest.equals(expectedDest) || dest.equals(a[s]) || (expectedDest.equals("./") && dest.equals(".")),
                                "COPY " + a[s] + " keeps its place in the tree, got " + dest);
                        copied.add(a[s]);
                    }
                }
            }
        }
        // every pom of the reactor: the root's modules, and theirs (services/ holds modules of its own)
        Set<String> modules = new TreeSet<>(List.of("pom.xml"));
        java.util.ArrayDeque<String> aggregators = new java.util.ArrayDeque<>(List.of(""));
        while (!aggregators.isEmpty()) {
            String dir = aggregators.poll();
            Matcher m = Pattern.compile("<module>([^<]+)</module>").matcher(Files.readString(ROOT.resolve(dir + "pom.xml")));
            while (m.find()) {
                modules.add(dir + m.group(1) + "/pom.xml");
                aggregators.add(dir + m.group(1) + "/");
            }
        }
        assertTrue(modules.size() > 1, "the root pom lists modules");
        if (!copied.contains("*")) {
            assertEquals(modules, copied, "the poms copied before the first mvn");
        }
    }

    @Test
    void dockerignoreKeepsBuildOutputAndGitOutOfTheContext() throws IOException {
        List<String> ignored = Files.readAllLines(ROOT.resolve(".dockerignore")).stream().map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        for (String needed : List.of(".git", "**/target/", "shootdown-out/")) {
            assertTrue(ignored.contains(needed), ".dockerignore has " + needed + ": " + ignored);
        }
        for (String line : ignored) {
            for (String kept : List.of("pom.xml", "src", "services", "launcher", "docker/Dockerfile")) {
                assertNotEquals(kept, line.replaceAll("^/|/$", ""), ".dockerignore must not drop " + kept);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    static JsonNode compose() throws IOException {
        return new ObjectMapper(new YAMLFactory()).readTree(COMPOSE_FILE.toFile());
    }

    /** The services that run the Shootdown image: the ones built from a Dockerfile. */
    static List<String> shootdownServices() throws IOException {
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : compose().path("services").properties()) {
            if (e.getValue().has("build")) {
                names.add(e.getKey());
            }
        }
        return names;
    }

    /** A service's environment, in either of Compose's forms (a map, or a list of KEY=VALUE). */
    static Map<String, String> environment(JsonNode service, String name) {
        Map<String, String> env = new LinkedHashMap<>();
        JsonNode e = service.path("environment");
        if (e.isObject()) {
            for (Map.Entry<String, JsonNode> f : e.properties()) {
                env.put(f.getKey(), f.getValue().isNull() ? null : f.getValue().asText());
            }
        } else if (e.isArray()) {
            for (JsonNode item : e) {
                String[] kv = item.asText().split("=", 2);
                env.put(kv[0], kv.length == 2 ? kv[1] : null);
            }
        } else if (!e.isMissingNode()) {
            fail(name + ": environment is neither a map nor a list");
        }
        return env;
    }

    /** One shootdown command a service runs: its subcommand, the options it gives (with values) and its positionals. */
    record Invocation(String jar, String subcommand, CommandSpec spec, List<String> options, Map<String, String> values,
            List<String> positionals) {
    }

    /** The shootdown commands a service runs: its command, under the image's entrypoint, or each one of its sh -c script. */
    static List<Invocation> invocations(String name, JsonNode service) {
        List<String> command = strings(service.path("command"), name + ": command");
        List<Invocation> found = new ArrayList<>();
        if (service.path("entrypoint").isMissingNode()) {
            found.add(invocation(name, "(the image's)", command.get(0), command.subList(1, command.size())));
            return found;
        }
        assertEquals(List.of("sh", "-c"), strings(service.path("entrypoint"), name + ": entrypoint"), name + ": entrypoint");
        Matcher m = JAVA_JAR.matcher(unescapeCompose(String.join("\n", command)));
        while (m.find()) {
            List<String> args = Arrays.stream(m.group(3).strip().split("\\s+")).filter(s -> !s.isEmpty())
                    .map(s -> s.replaceAll("^[\"']|[\"']$", "")).toList();
            found.add(invocation(name, m.group(1), m.group(2), args));
        }
        return found;
    }

    private static Invocation invocation(String name, String jar, String subcommand, List<String> args) {
        CommandSpec spec = subcommand(subcommand);
        assertNotNull(spec, name + ": `shootdown " + subcommand + "` is no subcommand");
        List<String> options = new ArrayList<>();
        Map<String, String> values = new LinkedHashMap<>();
        List<String> positionals = checkArguments(name, spec, args, options, values);
        return new Invocation(jar, subcommand, spec, options, values, positionals);
    }

    static List<String> checkArguments(String name, CommandSpec spec, List<String> args) {
        return checkArguments(name, spec, args, new ArrayList<>(), new LinkedHashMap<>());
    }

    /** Checks that every option in {@code args} is one of {@code spec}'s; returns the positionals. */
    static List<String> checkArguments(String name, CommandSpec spec, List<String> args, List<String> options, Map<String, String> values) {
        List<String> positionals = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.startsWith("-")) {
                positionals.add(a);
                continue;
            }
            String optionName = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            OptionSpec option = spec.findOption(optionName);
            assertNotNull(option, name + ": " + optionName + " is no option of `shootdown " + spec.name() + "`");
            options.add(option.longestName());
            if (a.contains("=")) {
                values.put(option.longestName(), a.substring(a.indexOf('=') + 1));
            } else if (option.arity().max() > 0) {
                assertTrue(i + 1 < args.size(), name + ": " + optionName + " needs a value");
                values.put(option.longestName(), args.get(++i));
            }
        }
        return positionals;
    }

    static CommandSpec subcommand(String name) {
        CommandLine sub = new CommandLine(new Shootdown()).getSubcommands().get(name);
        return sub == null ? null : sub.getCommandSpec();
    }

    /** The environment variable of each option of {@code spec}: SHOOTDOWN_BOOTSTRAP_SERVERS and so on. */
    static Map<String, OptionSpec> variables(CommandSpec spec) {
        Map<String, OptionSpec> byVariable = new LinkedHashMap<>();
        for (OptionSpec option : spec.options()) {
            if (!option.usageHelp() && !option.versionHelp()) {
                byVariable.put(EnvDefaults.variable(option.longestName()), option);
            }
        }
        return byVariable;
    }

    /** The text Compose hands the container: {@code $$} is a literal {@code $}; a lone {@code $} would be interpolated. */
    static String unescapeCompose(String text) {
        Matcher lone = Pattern.compile("(?<!\\$)\\$(?!\\$)").matcher(text.replace("$$", ""));
        assertFalse(lone.find(), "a lone $ in a command is interpolated by Compose from the host's environment; write $$: " + text);
        return text.replace("$$", "$");
    }

    static List<String> strings(JsonNode node, String what) {
        if (node.isTextual()) {
            return List.of(node.asText());
        }
        assertTrue(node.isArray() && node.size() > 0, what + ": a list of strings, got " + node);
        List<String> list = new ArrayList<>();
        node.forEach(n -> list.add(n.asText()));
        return list;
    }

    /** One Dockerfile instruction, continuation lines joined. */
    record Instruction(String keyword, String args) {
        boolean is(String k) {
            return keyword.equals(k);
        }
    }

    /** The Dockerfile's stages, each starting with its FROM. */
    static List<List<Instruction>> stages() throws IOException {
        List<List<Instruction>> stages = new ArrayList<>();
        StringBuilder pending = new StringBuilder();
        for (String raw : Files.readAllLines(DOCKERFILE, StandardCharsets.UTF_8)) {
            String line = raw.strip();
            if (line.startsWith("#") || (line.isEmpty() && pending.isEmpty())) {
                continue;
            }
            if (line.endsWith("\\")) {
                pending.append(line, 0, line.length() - 1).append(' ');
                continue;
            }
            pending.append(line);
            String text = pending.toString().strip();
            pending.setLength(0);
            if (text.isEmpty()) {
                continue;
            }
            String[] parts = text.split("\\s+", 2);
            Instruction instruction = new Instruction(parts[0].toUpperCase(java.util.Locale.ROOT),
                    parts.length > 1 ? parts[1].replaceAll("\\s+", " ").strip() : "");
            if (instruction.is("FROM")) {
                stages.add(new ArrayList<>());
            }
            assertFalse(stages.isEmpty(), "the Dockerfile starts with FROM (after comments), got " + text);
            stages.get(stages.size() - 1).add(instruction);
        }
        return stages;
    }

    private static int indexOf(List<Instruction> stage, String keyword, int nth) {
        int seen = 0;
        for (int i = 0; i < stage.size(); i++) {
            if (stage.get(i).is(keyword) && seen++ == nth) {
                return i;
            }
        }
        return -1;
    }

    private static String matchOne(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertTrue(m.find(), "no " + regex);
        String found = m.group(1);
        assertFalse(m.find(), "more than one " + regex);
        return found;
    }
}
