"""serving/: the docker-compose file and the Kubernetes manifest run TF Serving on
models/ with its documented flags and ports, and agree with each other."""

import pathlib

import yaml

SERVING = pathlib.Path(__file__).resolve().parents[1] / "serving"
FLAGS = ["--model_config_file=/models/models.config", "--model_config_file_poll_wait_seconds=60"]


def test_compose_runs_tf_serving_on_models():
    service = yaml.safe_load((SERVING / "docker-compose.yml").read_text())["services"]["tf-serving"]
    assert service["image"].startswith("tensorflow/serving:")
    assert service["command"] == FLAGS
    assert sorted(service["ports"]) == ["8500:8500", "8501:8501"]
    assert service["volumes"] == ["../models:/models:ro"]


def test_kubernetes_deployment_and_service_agree():
    docs = {d["kind"]: d for d in yaml.safe_load_all((SERVING / "kubernetes.yaml").read_text())}
    assert set(docs) == {"PersistentVolumeClaim", "Deployment", "Service"}
    pod = docs["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    compose = yaml.safe_load((SERVING / "docker-compose.yml").read_text())
    assert container["image"] == compose["services"]["tf-serving"]["image"]
    assert container["args"] == FLAGS
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": 8500, "http": 8501}
    assert container["readinessProbe"]["httpGet"]["port"] == "http"
    assert container["volumeMounts"][0]["mountPath"] == "/models"
    (volume,) = pod["spec"]["volumes"]
    claim = docs["PersistentVolumeClaim"]["metadata"]["name"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim
    service = docs["Service"]["spec"]
    assert service["selector"] == pod["metadata"]["labels"]
    assert {p["port"]: p["targetPort"] for p in service["ports"]} == {8500: "grpc", 8501: "http"}
