"""What matters about the built image, checked inside it (run by `nox -s test`)."""

from in_image import FIND_CREDENTIAL_FILES, RAY_REMOTE_IMPORT, imported_modules

from image_tasks import settings


def test_runs_as_its_non_root_user(run):
    uid = int(run("id", "-u"))
    assert uid != 0
    assert uid == settings.load().runtime_uid


def test_every_private_package_imports(run, private_packages):
    imported = {distribution for distribution, _ in imported_modules(run, private_packages)}
    assert imported == set(private_packages), (
        f"no importable module for {set(private_packages) - imported}"
    )


def test_ray_remote_task_imports_private_packages(run, private_packages):
    modules = [module for _, module in imported_modules(run, private_packages)]
    output = run("python3", "-c", RAY_REMOTE_IMPORT, *modules)
    assert output.split() == modules


def test_no_credential_file_anywhere(run):
    leftovers = run("python3", "-c", FIND_CREDENTIAL_FILES).split()
    assert leftovers == [], f"credential files in the image: {leftovers}"
