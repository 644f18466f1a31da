// Command accordd is an Accord member node. It is a composition root:
// it parses flags, loads and validates the configuration, builds the logger
// and the node (node/daemon), serves until SIGINT or SIGTERM, reloads TLS
// material on SIGHUP, and stops the node in the order node/daemon documents.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/cmd/internal/buildinfo"
	"github.com/accordfed/accord/cmd/internal/cmdtree"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/console"
	"github.com/accordfed/accord/node/daemon"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "accordd:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	var configPath string
	root := &cobra.Command{
		Use:   "accordd --config FILE",
		Short: "Run an Accord member node",
		Long: `accordd runs one member's Accord node: the mutual-TLS gRPC server that other
members' nodes and the office's tools talk to, and a Prometheus metrics listener.

Configuration comes from the file given with --config (see docs/configuration.md),
then ACCORD_* environment variables, then the flags below, each overriding the
one before; without a file, from defaults, the environment and flags alone. SIGINT or SIGTERM stop the node gracefully; SIGHUP reloads its
certificate, key, trust bundle and CRLs (they are also re-read periodically).`,
		Example:       "  accordd --config /etc/accord/node.yaml\n  accordd --config node.yaml --log-format text --log-level debug",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	root.PersistentFlags().StringVar(&configPath, "config", os.Getenv(config.EnvPrefix+"CONFIG"), "configuration file (or ACCORD_CONFIG); optional when ACCORD_* variables or flags give the rest")
	overrides := config.AddFlags(root.Flags())
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(configPath, overrides)
		if err != nil {
			return err
		}
		return run(cfg, cmd.ErrOrStderr())
	}
	root.AddCommand(newHealthCmd(&configPath), newVersionCmd(), newRestoreCmd(&configPath), newConfigCmd())
	cmdtree.RejectUnknownSubcommands(root)
	return root
}

func loadConfig(path string, overrides *config.Overrides) (config.Config, error) {
	// Without a file, the configuration comes from defaults, ACCORD_*
	// variables and flags alone (as in containers).
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return config.Config{}, err
	}
	if overrides != nil {
		overrides.Apply(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

func newLogger(cfg config.LogConfig, w io.Writer) *slog.Logger {
	level, _ := config.ParseLevel(cfg.Level) // validated
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func run(cfg config.Config, logw io.Writer) error {
	logger := newLogger(cfg.Log, logw)
	d, err := daemon.New(cfg, buildinfo.Version(), logger, daemon.WithConsole(officeConsole))
	if err != nil {
		return err
	}
	if err := d.Start(); err != nil {
		return err
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var runErr error
loop:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				if err := d.Reload(); err != nil {
					logger.Error("reload failed; keeping the current TLS material", "err", err)
				}
				continue
			}
			logger.Info("stopping", "signal", s.String())
			break loop
		case err := <-d.Err():
			runErr = err
			logger.Error("server failed; stopping", "err", err)
			break loop
		}
	}
	if err := d.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

func newHealthCmd(configPath *string) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health --config FILE",
		Short: "Check that this node is up and serving (exit status 0 when it is)",
		Long: `health connects to the node described by the configuration file, over mutual TLS
with the node's own certificate, and asks the standard gRPC health service whether
it is serving. Container health checks and service managers use it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(*configPath, nil)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := daemon.Probe(ctx, cfg); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "SERVING")
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "accordd", buildinfo.Version())
		},
	}
}

// officeConsole is the office's web console (console.listen): node/console
// served by the daemon to the office's browsers, each signed in by its
// user certificate.
func officeConsole(env daemon.ConsoleEnv) (http.Handler, error) {
	return console.New(console.Options{Office: env.User, TileURL: env.TileURL, Logger: env.Logger})
}
