"""Parses the Prometheus text exposition format with the reference client's
parser (prometheus_client) and prints the samples as JSON, so the Rust tests
check our output with a parser we did not write.

stdin: the exposition text. stdout: {"families": [{"name", "type", "help",
"samples": [{"name", "labels", "value"}]}]}.
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = []
for f in text_string_to_metric_families(sys.stdin.read()):
    families.append({
        "name": f.name,
        "type": f.type,
        "help": f.documentation,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples
        ],
    })
json.dump({"families": families}, sys.stdout)
