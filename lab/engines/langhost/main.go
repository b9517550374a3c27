// Copyright 2026, the ameide-secrets authors. Licensed under the Apache License, Version 2.0.
//
// pulumi-language-python (ameide build): a minimal Python language host for the Pulumi CLI.
//
// The upstream host (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python) is not available
// from the Go module proxy we build from, so this is our own, written against the LanguageRuntime
// gRPC service of the published sdk/v3 module (proto/go). It does what `pulumi preview/up/destroy`
// and `--policy-pack` need for this repository and nothing else:
//
//   - it prints the port it serves on, as every Pulumi plugin does (the CLI reads it from stdout);
//   - Run starts the program under the project's virtualenv with our shim exec.py (embedded below),
//     passing monitor/engine addresses, project, stack, organization, dry_run, parallel and the root
//     directory as arguments and the config / secret config keys in PULUMI_CONFIG /
//     PULUMI_CONFIG_SECRET_KEYS, the same contract as the upstream host and its
//     pulumi-language-python-exec script;
//   - RunPlugin runs a Python plugin directory (a policy pack) as `python <dir> <args>` under the
//     plugin's own virtualenv (default `venv`, as upstream), streaming its output back to the CLI;
//   - InstallDependencies creates the virtualenv and pip-installs requirements.txt into it;
//   - GetRequiredPackages/GetRequiredPlugins report no packages (see there), About and
//     GetProgramDependencies answer from the virtualenv's interpreter and pip.
//
// Everything else (code generation, packing, linking, templates, debugging) is left to the embedded
// UnimplementedLanguageRuntimeServer, which answers codes.Unimplemented.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set by engines/build.sh (-ldflags "-X main.version=..."): this host's own version, not
// Pulumi's; GetPluginInfo reports it.
var version = "0.0.0-dev"

// execShim is the Python side: it configures the Pulumi Python SDK and runs the program.
//
//go:embed exec.py
var execShim string

// bailExitCode is what the shim exits with after it has already reported the program's error to the
// engine; Run then answers Bail so the CLI does not print a second, less useful message.
// (The same value as the upstream host.)
const bailExitCode = 32

func main() {
	// The CLI starts language hosts as `pulumi-language-python [flags] <engine address>`. Older CLIs
	// also passed these flags; accept and ignore them.
	flag.String("tracing", "", "ignored")
	flag.String("virtualenv", "", "ignored (the runtime options in Pulumi.yaml are used)")
	flag.String("root", "", "ignored")
	flag.String("typechecker", "", "ignored")
	flag.String("toolchain", "", "ignored")
	flag.Parse()

	host := &pythonHost{}
	if flag.NArg() > 0 {
		host.engineAddress = flag.Arg(0)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	cancelServe := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancelServe)
	}()

	// Exit when the engine goes away, so a killed CLI leaves no host behind.
	if host.engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, host.engineAddress, 5*time.Minute, cancel); err != nil {
			fatalf("could not start the engine health check: %v", err)
		}
	}

	// rpcutil listens on 127.0.0.1 with a kernel-chosen port.
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelServe,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fatalf("could not start the language host gRPC server: %v", err)
	}
	// The CLI reads the port from our first line of stdout.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		fatalf("language host stopped serving: %v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
}

func (h *pythonHost) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake is only sent when the CLI attaches to an already running host (PULUMI_DEBUG_LANGUAGES);
// a host it starts itself gets the engine address as its argument.
func (h *pythonHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPackages reports no packages. The upstream host lists the pulumi-* distributions in the
// virtualenv so the CLI can install their plugins ahead of time; here plugins are never downloaded:
// the engine resolves each provider when the program first uses it (from $PATH, where `make engines`
// puts ours, or from PULUMI_HOME).
func (h *pythonHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages; same answer.
func (h *pythonHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// Cancel: nothing to interrupt beyond what the CLI already signals to the program.
func (h *pythonHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// ---- runtime options and the interpreter ------------------------------------------------------

// options are the `runtime.options` of Pulumi.yaml / PulumiPolicy.yaml that we support.
type options struct {
	root       string // the directory of Pulumi.yaml / PulumiPolicy.yaml
	virtualenv string // as written; relative paths are relative to root
}

// programPython is the program's interpreter and environment, from its project's runtime options.
func programPython(info *pulumirpc.ProgramInfo) (string, []string, error) {
	opts, err := parseOptions(info)
	if err != nil {
		return "", nil, err
	}
	return interpreter(opts, os.Environ())
}

func parseOptions(info *pulumirpc.ProgramInfo) (options, error) {
	if info == nil {
		return options{}, errors.New("the CLI sent no program info")
	}
	opts := options{root: info.GetRootDirectory()}
	raw := info.GetOptions().AsMap()
	if v, ok := raw["virtualenv"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("the virtualenv option must be a string")
		}
		opts.virtualenv = s
	}
	if v, ok := raw["toolchain"]; ok && v != "pip" {
		return opts, fmt.Errorf("toolchain %v is not supported by this language host (only pip)", v)
	}
	if v, ok := raw["typechecker"]; ok && v != "" {
		return opts, fmt.Errorf("typechecker %v is not supported by this language host", v)
	}
	return opts, nil
}

// venvPath resolves the virtualenv option against the project (or plugin) root, as upstream does;
// "" means no virtualenv (the interpreter on PATH).
func (o options) venvPath() string {
	if o.virtualenv == "" || filepath.IsAbs(o.virtualenv) {
		return o.virtualenv
	}
	return filepath.Join(o.root, o.virtualenv)
}

// basePython is the interpreter used to create virtualenvs and when there is none:
// PULUMI_PYTHON_CMD (as upstream), else python3, else python.
func basePython() (string, error) {
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		return exec.LookPath(cmd)
	}
	if p, err := exec.LookPath("python3"); err == nil {
		return p, nil
	}
	p, err := exec.LookPath("python")
	if err != nil {
		return "", errors.New("no python3 or python on PATH (set PULUMI_PYTHON_CMD)")
	}
	return p, nil
}

// interpreter returns the python to run and the environment to run it in: base, plus the virtualenv
// activated (VIRTUAL_ENV, its bin/ first on PATH, PYTHONHOME unset) if there is one. A configured
// virtualenv that does not exist is an error that says how to create it.
func interpreter(o options, base []string) (string, []string, error) {
	env := make([]string, 0, len(base)+3)
	venv := o.venvPath()
	var python string
	if venv == "" {
		p, err := basePython()
		if err != nil {
			return "", nil, err
		}
		python = p
		env = append(env, base...)
	} else {
		python = filepath.Join(venv, "bin", "python")
		if _, err := os.Stat(python); err != nil {
			return "", nil, fmt.Errorf(
				"the 'virtualenv' option is set to %q, but %s is not a virtual environment; "+
					"run `pulumi install` (or create it with python3 -m venv and pip install -r requirements.txt)",
				o.virtualenv, venv)
		}
		for _, kv := range base {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "PYTHONHOME", "VIRTUAL_ENV":
				continue
			case "PATH":
				kv = "PATH=" + filepath.Join(venv, "bin") + string(os.PathListSeparator) + v
			}
			env = append(env, kv)
		}
		env = append(env, "VIRTUAL_ENV="+venv)
		if !hasKey(env, "PATH") {
			env = append(env, "PATH="+filepath.Join(venv, "bin"))
		}
	}
	// Our children's stdout is a pipe: without this a policy pack's port line (and program output)
	// would sit in Python's buffer.
	env = append(env, "PYTHONUNBUFFERED=true")
	return python, env, nil
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// ---- Run: the Pulumi program ------------------------------------------------------------------

func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if req.GetAttachDebugger() {
		return &pulumirpc.RunResponse{Error: "debugging is not supported by this language host"}, nil
	}
	python, env, err := programPython(req.GetInfo())
	if err != nil {
		return nil, err
	}

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("serializing config: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serializing config secret keys: %w", err)
	}
	env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON))

	// The shim's command line, as the upstream host builds it for pulumi-language-python-exec.
	args := []string{"-c", execShim}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine())
	add("project", req.GetProject())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("organization", req.GetOrganization())
	entry := req.GetInfo().GetEntryPoint() // "." for the program directory (its __main__.py)
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr // the CLI shows our output as the program's
	err = cmd.Run()
	os.Stdout.Sync() //nolint:errcheck
	os.Stderr.Sync() //nolint:errcheck
	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if exitErr.ExitCode() == bailExitCode {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the program with %s: %v", python, err)}, nil
}

// ---- RunPlugin: policy packs (and other Python plugins) --------------------------------------

func (h *pythonHost) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	if req.GetAttachDebugger() {
		return errors.New("debugging is not supported by this language host")
	}
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return err
	}
	// Plugins always run in a virtualenv, `venv` unless PulumiPolicy.yaml / PulumiPlugin.yaml says
	// otherwise (upstream's rule).
	if opts.virtualenv == "" {
		opts.virtualenv = "venv"
	}
	// The CLI sends the whole environment the plugin should see.
	base := req.GetEnv()
	if len(base) == 0 {
		base = os.Environ()
	}
	python, env, err := interpreter(opts, base)
	if err != nil {
		return err
	}

	// `python <dir> <args>` runs the plugin directory's __main__.py (for a policy pack the only
	// argument is the engine address; the pack prints the port of its analyzer server).
	args := append([]string{req.GetInfo().GetProgramDirectory()}, req.GetArgs()...)
	cmd := exec.CommandContext(server.Context(), python, args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = env

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return server.Send(&pulumirpc.RunPluginResponse{
				Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())}, //nolint:gosec
			})
		}
		return fmt.Errorf("could not run plugin %s with %s: %w", req.GetInfo().GetProgramDirectory(), python, err)
	}
	return closer.Close()
}

// ---- InstallDependencies (`pulumi install`, and plugins before their first run) ----------------

// InstallDependencies creates the virtualenv if it is missing or empty and pip-installs the program
// directory's requirements.txt into it (pip decides what is already satisfied). Without a
// virtualenv option (a program using the ambient interpreter) there is nothing we may install into,
// and it only says so.
func (h *pythonHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return err
	}
	if req.GetIsPlugin() && opts.virtualenv == "" {
		opts.virtualenv = "venv"
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	ctx := server.Context()

	venv := opts.venvPath()
	if venv == "" {
		fmt.Fprintln(stdout, "No virtualenv runtime option: not installing into the ambient Python.")
		return closer.Close()
	}
	if entries, err := os.ReadDir(venv); err != nil || len(entries) == 0 {
		base, err := basePython()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Creating virtual environment %s with %s...\n", venv, base)
		if err := run(ctx, stdout, stderr, "", nil, base, "-m", "venv", venv); err != nil {
			return fmt.Errorf("creating virtual environment %s: %w", venv, err)
		}
	}
	python, env, err := interpreter(opts, os.Environ())
	if err != nil {
		return err
	}
	requirements := filepath.Join(req.GetInfo().GetProgramDirectory(), "requirements.txt")
	if _, err := os.Stat(requirements); err == nil {
		fmt.Fprintf(stdout, "Installing %s into %s...\n", requirements, venv)
		if err := run(ctx, stdout, stderr, req.GetInfo().GetProgramDirectory(), env,
			python, "-m", "pip", "install", "-r", requirements); err != nil {
			return fmt.Errorf("pip install -r %s: %w", requirements, err)
		}
	} else {
		fmt.Fprintf(stdout, "No %s: nothing to install.\n", requirements)
	}
	fmt.Fprintln(stdout, "Finished installing dependencies")
	return closer.Close()
}

func run(ctx context.Context, stdout, stderr io.Writer, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

// ---- About / GetProgramDependencies (`pulumi about`, update metadata) --------------------------

func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	opts := options{}
	if req.GetInfo() != nil {
		var err error
		if opts, err = parseOptions(req.GetInfo()); err != nil {
			return nil, err
		}
	}
	python, env, err := interpreter(opts, os.Environ())
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := run(ctx, &out, io.Discard, "", env, python, "--version"); err != nil {
		return nil, fmt.Errorf("%s --version: %w", python, err)
	}
	return &pulumirpc.AboutResponse{
		Executable: python,
		Version:    strings.TrimPrefix(strings.TrimSpace(out.String()), "Python "),
		Metadata:   map[string]string{"languageHost": "ameide-secrets engines/langhost " + version},
	}, nil
}

func (h *pythonHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	python, env, err := programPython(req.GetInfo())
	if err != nil {
		return nil, err
	}
	// pip lists every installed distribution; that is the transitive set, and upstream also
	// answers with it for TransitiveDependencies=false under pip.
	var out bytes.Buffer
	if err := run(ctx, &out, io.Discard, "", env, python, "-m", "pip", "list", "--format", "json"); err != nil {
		return nil, fmt.Errorf("%s -m pip list: %w", python, err)
	}
	var pkgs []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out.Bytes(), &pkgs); err != nil {
		return nil, fmt.Errorf("parsing pip list output: %w", err)
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pkgs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return resp, nil
}

// Compile-time check that every method we override has the generated signature.
var _ pulumirpc.LanguageRuntimeServer = (*pythonHost)(nil)
