"""`vitals run`: the streaming pipeline from settings (simulator, files, MQTT or Kafka)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vitals.cli.options import add_dry_run, add_pipeline_options, dry_run, settings_from_args
from vitals.cli.summary import finish_run
from vitals.memory_policy import apply_malloc_policy
from vitals.sources.registry import SOURCES

EPILOG = """\
examples:
  vitals run                                   # simulated city, metrics on http://127.0.0.1:9108/metrics
  vitals run --config city.yaml                # settings from a file (VITALS_* variables override it)
  vitals run --source mqtt --mqtt-port 1883 --history-dir var/history --recovery-dir var/recovery
  vitals simulate --hours 1 --speed 60 --out - | mosquitto_pub -l -t city/readings   # feeds the line above
  vitals run --source file --path var/day.parquet --speed 0
  vitals run --source kafka --kafka-brokers k1:9092,k2:9092 --kafka-topic city-readings --recovery-dir var/recovery
  vitals run -i 0 -a "127.0.0.1:2101;127.0.0.1:2102" &   # a 2-process cluster on one host
  vitals run -i 1 -a "127.0.0.1:2101;127.0.0.1:2102"
  vitals run -a "127.0.0.1:2101;127.0.0.1:2102" --scrape-config var/scrape.yml --dry-run
  vitals run --web-config web.yml             # /metrics over TLS with basic auth (docs/security.md)
  VITALS_MQTT_PASSWORD=... vitals run --source mqtt --mqtt-username vitals --mqtt-ca-file ca.crt --mqtt-port 8883
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run", help="run the streaming pipeline",
        description="Run the streaming pipeline: source -> validation -> vitals -> /metrics, history, dead letters.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--source", choices=SOURCES.names(),
                   help="where readings come from (a source's settings: its section of --config, docs/sources.md)")
    p.add_argument("--path", metavar="PATH", help="file or directory for --source file")
    p.add_argument("--speed", type=float, metavar="X", help="event seconds per wall second (0 = as fast as possible)")
    p.add_argument("--pace-from", metavar="TIME",
                   help="with --speed: as fast as possible until this event time (ISO 8601 with a zone, e.g. "
                        "2025-06-02T08:00+08:00), paced from there (the state warms up on the hours before)")
    p.add_argument("--seed", type=int, help="simulator seed")
    p.add_argument("--mqtt-host", metavar="HOST")
    p.add_argument("--mqtt-port", type=int, metavar="PORT")
    p.add_argument("--mqtt-topic", metavar="FILTER",
                   help="topic filter (default city/#: every topic under city/)")
    p.add_argument("--mqtt-username", metavar="USER",
                   help="MQTT login; the password comes from --mqtt-password-file or VITALS_MQTT_PASSWORD")
    p.add_argument("--mqtt-password-file", metavar="FILE", help="file whose first line is the MQTT password")
    p.add_argument("--mqtt-tls", action="store_true", default=None, help="TLS to the broker (system CAs by default)")
    p.add_argument("--mqtt-ca-file", metavar="FILE", help="CA certificate(s) of the broker (implies --mqtt-tls)")
    p.add_argument("--mqtt-cert-file", metavar="FILE", help="client certificate for the broker (with --mqtt-key-file)")
    p.add_argument("--mqtt-key-file", metavar="FILE", help="client certificate's private key")
    p.add_argument("--kafka-brokers", metavar="H:P,...")
    p.add_argument("--kafka-topic", metavar="TOPIC")
    p.add_argument("--kafka-stop-at-end", action="store_true", default=None,
                   help="end when every Kafka partition is read to its end (a backfill) instead of waiting")
    p.add_argument("--kafka-linger-ms", type=float, metavar="MS",
                   help="hold a partition's messages up to MS ms to decode them as one batch (default 0)")
    p.add_argument("--kafka-consumer", metavar="K=V,...",
                   help="more librdkafka consumer settings, e.g. security.protocol=ssl,fetch.wait.max.ms=100")
    p.add_argument("--scrape-config", metavar="FILE",
                   help="write a Prometheus scrape config listing every process's /metrics, then go on")
    add_dry_run(p)
    add_pipeline_options(p)
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    apply_malloc_policy()
    runner = args.runner()
    settings = settings_from_args(
        args, source=args.source, path=args.path, mqtt_host=args.mqtt_host, mqtt_port=args.mqtt_port,
        mqtt_topic=args.mqtt_topic, kafka_brokers=args.kafka_brokers, kafka_topic=args.kafka_topic,
        mqtt_username=args.mqtt_username, mqtt_password_file=args.mqtt_password_file, mqtt_tls=args.mqtt_tls,
        mqtt_ca_file=args.mqtt_ca_file, mqtt_cert_file=args.mqtt_cert_file, mqtt_key_file=args.mqtt_key_file,
        kafka_stop_at_end=args.kafka_stop_at_end, kafka_consumer=args.kafka_consumer,
        kafka_linger_ms=args.kafka_linger_ms,
    )
    if args.dry_run:
        ok = dry_run(runner, settings, final_vitals=args.final_vitals, scrape_config=args.scrape_config)
    if args.scrape_config:
        runner.write_scrape_config(settings, args.scrape_config)
        sys.stderr.write(f"wrote {args.scrape_config}\n")
    if args.dry_run:
        sys.stdout.write(ok + "\n")
        return 0
    summary = runner.run_pipeline(settings, final_vitals=args.final_vitals)
    return finish_run("run", summary, settings)
