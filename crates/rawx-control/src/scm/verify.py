# AWX 24.6.1's `verify_project` action (awx/playbooks/action_plugins/verify_project.py), run by
# the execution environment's Python with its ansible-sign: argv is the project path, the file
# holding the GPG public key and the validations to run, in order; prints one JSON result per
# validation, stopping at the first that failed (as the play would).
import json, os, subprocess, sys, tempfile

project_path, key_file, kinds = sys.argv[1], sys.argv[2], sys.argv[3:]
sign_dir = os.path.join(project_path, ".ansible-sign")
manifest_file = os.path.join(sign_dir, "sha256sum.txt")


def validate_gpg():
    import gnupg
    from ansible_sign.signing import GPGVerifier

    signature_file = os.path.join(sign_dir, "sha256sum.txt.sig")
    for path in (signature_file, manifest_file):
        if not os.path.exists(path):
            return {"failed": True, "msg": f"Expected file not found: {path}"}
    with open(key_file) as f:
        gpg_pubkey = f.read()
    with tempfile.TemporaryDirectory() as gpg_home:
        try:
            gpg = gnupg.GPG(gnupghome=gpg_home)
            gpg.import_keys(gpg_pubkey)
            result = GPGVerifier(
                manifest_path=manifest_file,
                detached_signature_path=signature_file,
                gpg_home=gpg_home,
            ).verify()
        finally:
            # Nothing this started may outlive it (gpg may have started an agent).
            if any(n.startswith("S.") for n in os.listdir(gpg_home)):
                subprocess.run(["gpgconf", "--homedir", gpg_home, "--kill", "all"], capture_output=True)
    return {"failed": not result.success, "msg": result.summary, "gpg_details": result.extra_information}


def validate_checksum_manifest():
    from ansible_sign.checksum import ChecksumFile, ChecksumMismatch, InvalidChecksumLine
    from ansible_sign.checksum.differ import DistlibManifestChecksumFileExistenceDiffer

    checksum = ChecksumFile(project_path, differ=DistlibManifestChecksumFileExistenceDiffer)
    if not os.path.exists(manifest_file):
        return {"failed": True, "msg": f"Expected file not found: {manifest_file}"}
    with open(manifest_file, "r") as f:
        checksum_file_contents = f.read()
    try:
        manifest = checksum.parse(checksum_file_contents)
    except InvalidChecksumLine as e:
        return {"failed": True, "msg": f"Invalid line in checksum manifest: {e}"}
    try:
        checksum.verify(manifest)
    except ChecksumMismatch as e:
        return {"failed": True, "msg": str(e)}
    return {"failed": False, "msg": "Checksum manifest is valid."}


for kind in kinds:
    try:
        result = {"gpg": validate_gpg, "checksum_manifest": validate_checksum_manifest}[kind]()
    except ImportError as e:
        result = {"failed": True, "msg": f"ansible-sign is not installed in the execution environment: {e}"}
    print(json.dumps({"validation_type": kind, "result": result}, default=str), flush=True)
    if result["failed"]:
        break
