#!/usr/bin/env python3
"""huggingface_hub's side of pretrained's hub cache interoperability test.

  hf-hub-interop.py download ENDPOINT CACHE_DIR REPO_ID FILE...
      hf_hub_download each file from ENDPOINT into CACHE_DIR (network)
  hf-hub-interop.py cached CACHE_DIR REPO_ID FILE...
      hf_hub_download each file with local_files_only=True (cache only)

Prints a JSON list of the local paths.
"""
import json
import os
import sys


def main():
    mode = sys.argv[1]
    if mode == "download":
        endpoint, cache, repo, files = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
        os.environ["HF_ENDPOINT"] = endpoint
        os.environ.pop("HF_HUB_OFFLINE", None)
        os.environ.pop("TRANSFORMERS_OFFLINE", None)
        local = False
    else:
        cache, repo, files = sys.argv[2], sys.argv[3], sys.argv[4:]
        local = True
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from huggingface_hub import hf_hub_download  # after HF_ENDPOINT is set

    paths = [hf_hub_download(repo, f, cache_dir=cache, local_files_only=local) for f in files]
    json.dump(paths, sys.stdout)


if __name__ == "__main__":
    main()
