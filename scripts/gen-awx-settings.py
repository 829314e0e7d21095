#!/usr/bin/env python3
"""Writes crates/rawx-domain/src/settings/awx.json: every setting AWX 24.6.1 registers (its
`register(...)` calls in awx/*/conf.py) with its category, field kind, validation arguments,
label, help text and default (the `default=` given to `register`, else the value in
awx/settings/defaults.py, as AWX's `SettingsRegistry.get_setting_field` resolves it).

Run it by hand when the AWX version rawx follows changes:

    scripts/gen-awx-settings.py /work/.mirror/ansible+awx/repo 24.6.1

AWX's modules cannot be imported here (Django, LDAP, …), so each file's source is run with
every import it makes replaced by a stand-in: `register` records its arguments, field classes
are named placeholders, `gettext_lazy` is the identity, `django.conf.settings` is the namespace
defaults.py leaves. What a stand-in cannot compute is fixed in FIXES below, with the reason.
"""

import builtins
import collections
import json
import subprocess
import sys
import types

REPO, TAG = sys.argv[1], sys.argv[2]
CONF_FILES = ["awx/conf/conf.py", "awx/main/conf.py", "awx/api/conf.py", "awx/ui/conf.py", "awx/sso/conf.py"]
REAL = {"os", "re", "collections", "logging", "base64", "tempfile", "socket", "datetime", "urllib",
        "urllib.parse", "json", "sys", "copy", "typing", "uuid", "functools"}


def source(path):
    return subprocess.run(["git", "-C", REPO, "show", f"{TAG}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def placeholder(name):
    """A class standing for an AWX/Django/DRF name this script does not run."""

    class Meta(type):
        def __getattr__(cls, attr):
            return placeholder(f"{name}.{attr}")

        def __call__(cls, *a, **k):
            return cls

        def __or__(cls, other):
            return cls

        def __repr__(cls):
            return f"<{name}>"

    return Meta(name.rsplit(".", 1)[-1], (), {"_qual": name})


class StubModule(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return placeholder(f"{self.__name__}.{attr}")


REGISTRY = collections.OrderedDict()
SETTINGS = types.SimpleNamespace()


def register(name, **kw):
    REGISTRY[name] = kw


def unregister(name):
    REGISTRY.pop(name, None)


def make_import(extra):
    real_import = builtins.__import__

    def imp(name, globals=None, locals=None, fromlist=(), level=0):
        if name.split(".")[0] in REAL or name in REAL:
            return real_import(name, globals, locals, fromlist, level)
        if name in extra:
            return extra[name]
        return StubModule(name)

    return imp


def run(src, extra):
    g = {"__name__": "awx_conf", "__file__": "/awx/settings/defaults.py", "__builtins__": dict(vars(builtins), __import__=make_import(extra))}
    exec(compile(src, "conf", "exec"), g)
    return g


# defaults.py, for the defaults `register` does not give.
django_conf = StubModule("django.conf")
django_conf.settings = SETTINGS
trans = StubModule("django.utils.translation")
trans.gettext_lazy = lambda s: s
trans.gettext = lambda s: s
# The tail of defaults.py includes django-ansible-base's dynamic settings by file path, which a
# stand-in cannot name; no registered setting is defined there.
defaults_src = source("awx/settings/defaults.py").replace(
    "include(os.path.join(os.path.dirname(dynamic_config.__file__), 'dynamic_settings.py'))", "")
defaults = run(defaults_src, {"django.utils.translation": trans})
for k, v in defaults.items():
    if k.isupper():
        setattr(SETTINGS, k, v)

conf_mod = StubModule("awx.conf")
conf_mod.register = register
conf_mod.register_validate = lambda *a, **k: None
conf_mod.settings_registry = types.SimpleNamespace(unregister=unregister)
conf_mod.fields = StubModule("awx.conf.fields")
for path in CONF_FILES:
    run(source(path), {"awx.conf": conf_mod, "django.conf": django_conf, "django.utils.translation": trans,
                       "awx.conf.fields": conf_mod.fields})

# The field classes AWX's settings use, as the kinds rawx validates: DRF's own and AWX's
# subclasses of them (awx/conf/fields.py, awx/sso/fields.py, awx/ui/fields.py, awx/api/fields.py).
KINDS = {
    "BooleanField": "bool", "IntegerField": "int", "CharField": "str", "URLField": "url",
    "ChoiceField": "choice", "DictField": "dict", "KeyValueField": "dict", "StringListField": "list",
    "StringListPathField": "list", "StringListIsolatedPathField": "list", "ListTuplesField": "list",
    "DateTimeField": "datetime", "PrimaryKeyRelatedField": "pk", "OAuth2ProviderField": "dict",
    "PendoTrackingStateField": "choice", "CustomLogoField": "str", "AuthenticationBackendsField": "list",
    "LDAPServerURIField": "str", "LDAPConnectionOptionsField": "dict", "LDAPDNField": "str",
    "LDAPDNWithUserField": "str", "LDAPSearchField": "list", "LDAPSearchUnionField": "list",
    "LDAPUserAttrMapField": "dict", "LDAPGroupTypeField": "choice", "LDAPGroupTypeParamsField": "dict",
    "LDAPUserFlagsField": "dict", "LDAPOrganizationMapField": "dict", "LDAPTeamMapField": "dict",
    "SocialOrganizationMapField": "dict", "SocialTeamMapField": "dict", "SAMLOrgInfoField": "dict",
    "SAMLContactField": "dict", "SAMLEnabledIdPsField": "dict", "SAMLSecurityField": "dict",
    "SAMLOrgAttrField": "dict", "SAMLTeamAttrField": "dict", "SAMLUserFlagsAttrField": "dict",
}
# Field classes whose constructor fixes what `register` does not pass.
NULLABLE_BY_CLASS = {"LDAPDNField", "LDAPDNWithUserField", "SocialOrganizationMapField", "SocialTeamMapField",
                     "SAMLOrgAttrField", "SAMLTeamAttrField", "SAMLUserFlagsAttrField"}
BLANK_BY_CLASS = {"LDAPServerURIField", "LDAPDNField", "LDAPDNWithUserField", "CustomLogoField"}
# Defaults a stand-in cannot compute: SocialAuthCallbackURL(...) renders TOWER_URL_BASE + the
# provider's complete path (awx/sso/conf.py), read-only and made at read time; LDAP group types
# name classes; values built from ldap constants.
CALLBACK = "SocialAuthCallbackURL"


def plain(v):
    if isinstance(v, type):
        return None
    if isinstance(v, (list, tuple)):
        return [plain(i) for i in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, __import__("datetime").timedelta):
        return int(v.total_seconds())
    return None


LDAP_GROUP_TYPES = ["PosixGroupType", "NISGroupType", "MemberDNGroupType", "NestedMemberDNGroupType",
                    "GroupOfNamesType", "NestedGroupOfNamesType", "GroupOfUniqueNamesType",
                    "NestedGroupOfUniqueNamesType", "ActiveDirectoryGroupType", "NestedActiveDirectoryGroupType",
                    "OrganizationalRoleGroupType", "NestedOrganizationalRoleGroupType", "PosixUIDGroupType"]


def fix(e):
    """What the stand-ins got wrong, each from the AWX source named."""
    if e["field"] in ("URLField", "LDAPServerURIField") and e["default"] is None:
        # awx/conf/fields.py URLField.to_representation: None is shown as "".
        e["default"] = ""
    if e["field"] == "LDAPConnectionOptionsField" and isinstance(e["default"], dict):
        # awx/sso/fields.py: python-ldap's option constants are shown by their names.
        e["default"] = {k.replace("<ldap.", "").rstrip(">"): v for k, v in e["default"].items()}
    if e["name"] == "OAUTH2_PROVIDER":
        # register's default is oauth2_settings', which come from defaults.py's OAUTH2_PROVIDER.
        e["default"] = plain(SETTINGS.OAUTH2_PROVIDER)
    if e["name"] == "SUBSCRIPTION_USAGE_MODEL":
        # awx/main/constants.py: SUBSCRIPTION_USAGE_MODEL_UNIQUE_HOSTS
        e["choices"] = [[c if c is not None else "unique_managed_hosts", n] for c, n in e["choices"]]
    if e["field"] == "LDAPGroupTypeField":
        # awx/sso/fields.py: the subclasses of django_auth_ldap's LDAPGroupType (and AWX's
        # PosixUIDGroupType, awx/sso/ldap_group_types.py), by class name.
        e["choices"] = [[n, n] for n in LDAP_GROUP_TYPES]
    if e["kind"] == "list" and e["default"] == "":
        # A StringListField renders AWX's "" default (AWX_ANSIBLE_CALLBACK_PLUGINS) as [].
        e["default"] = []


out = []
for name, kw in REGISTRY.items():
    cls = kw["field_class"]
    cls_name = getattr(cls, "_qual", getattr(cls, "__name__", str(cls))).rsplit(".", 1)[-1]
    kind = KINDS[cls_name]
    entry = {"name": name, "slug": kw.get("category_slug"), "category": kw.get("category"), "kind": kind,
             "field": cls_name, "label": kw.get("label", ""), "help": kw.get("help_text", "")}
    callback = None
    # AWX's get_setting_field: a writable setting's default is the settings file's value when
    # it has one (register's `default=` only otherwise); a read-only one keeps register's.
    if (not kw.get("read_only") or "default" not in kw) and hasattr(SETTINGS, name):
        entry["default"] = plain(getattr(SETTINGS, name))
    elif "default" in kw:
        d = kw["default"]
        if type(d).__name__ == "SocialAuthCallbackURL" or getattr(d, "_qual", "").endswith(CALLBACK):
            callback = True
        elif callable(d) and not isinstance(d, type):
            # Computed at read time from other settings (SAML's metadata URL from
            # TOWER_URL_BASE): rawx computes it the same way (`derived`).
            try:
                d = d()
            except TypeError:
                d, callback = None, True
        entry["default"] = plain(d)
    else:
        entry["default"] = None
    if callback or name.endswith("_CALLBACK_URL"):
        entry["callback_url"] = True
    for arg in ("min_value", "max_value", "allow_blank", "allow_null", "read_only", "encrypted", "hidden",
                "unit", "required", "schemes", "allow_plain_hostname"):
        if arg in kw and kw[arg] is not None:
            entry[arg] = plain(kw[arg])
    if cls_name in NULLABLE_BY_CLASS:
        entry["allow_null"] = True
    if cls_name in BLANK_BY_CLASS:
        entry["allow_blank"] = True
    if "choices" in kw:
        entry["choices"] = [[plain(c[0]), plain(c[1])] if isinstance(c, (list, tuple)) else [c, c] for c in kw["choices"]]
    if "placeholder" in kw:
        entry["placeholder"] = plain(kw["placeholder"])
    fix(entry)
    out.append(entry)

json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
print()
print(f"{len(out)} settings", file=sys.stderr)
