"""The Python side of buildout's Python bridge.

`buildout` (a Rust program) runs recipes that are Python distributions through this module: one
Python process per run serves every Python part. It connects to the Unix socket named on its
command line and speaks JSON lines there; stdin, stdout and stderr stay the terminal's, so what a
recipe prints shows up as it does under zc.buildout.

Messages from buildout carry an `op` (init, construct, install, update, uninstall) and get one
`reply` or `error`. While an op runs, this side may ask buildout something (`call`: get a
section, set an option, log, report picked versions) and waits for its `answer`; buildout may
meanwhile send another op (constructing a part that the section being read depends on), which
is served first. Calls and ops therefore nest, and each side answers the innermost first.

Recipes get zc.buildout's interface: `recipe_class(buildout, name, options)`, with `buildout`
a mapping of sections whose values buildout evaluates, and `options` a subclass of the real
`zc.buildout.buildout.Options`. The real `zc.buildout` and `zc.recipe.egg` packages are
importable (buildout installs them as eggs and puts them first on `sys.path`).
"""

import json
import logging
import os
import socket
import sys
import traceback
from collections.abc import MutableMapping


class Channel:
    """The socket to buildout, and the nesting of ops and calls over it."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.reader = self.sock.makefile('rb')
        self.writer = self.sock.makefile('wb')
        self.serve_op = None

    def send(self, message):
        self.writer.write(json.dumps(message).encode('utf-8') + b'\n')
        self.writer.flush()

    def receive(self):
        line = self.reader.readline()
        if not line:
            # buildout is gone: nothing is left to do for it.
            os._exit(0)
        return json.loads(line.decode('utf-8'))

    def call(self, method, **arguments):
        """Asks buildout; serves the ops it sends before answering."""
        arguments['call'] = method
        self.send(arguments)
        while True:
            message = self.receive()
            if 'answer' in message:
                return message['answer']
            if 'failed' in message:
                raise HostError(message['failed'])
            self.serve_op(message)


CHANNEL = None


def _user_error_class():
    import zc.buildout
    return zc.buildout.UserError


class HostError(Exception):
    """An error buildout reported for a call (a bad substitution in a section a recipe read,
    say). It goes back to buildout as it came, steps and all, when the recipe lets it through.
    """

    def __init__(self, wire):
        Exception.__init__(self, wire.get('message', ''))
        self.wire = wire


class BuildoutLogHandler(logging.Handler):
    """Sends every log record to buildout, which filters and formats it as zc.buildout does."""

    def emit(self, record):
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        try:
            CHANNEL.call('log', level=max(0, min(record.levelno, 255)),
                         logger=record.name, message=message)
        except HostError:
            pass


def _bool(name, value):
    # zc.buildout's spelling of booleans in options.
    if value == 'true':
        return True
    if value == 'false':
        return False
    raise _user_error_class()('Invalid value for %s: %s' % (name, value))


def _options_class():
    import zc.buildout
    import zc.buildout.buildout

    class Options(zc.buildout.buildout.Options):
        """A section's options as buildout evaluated them. Reading an option marks it used
        (zc.buildout's unused-option warning); setting one in another part's section, or in
        a section that is not a part being constructed, is sent to buildout at once.
        """

        def __init__(self, buildout, name, values, live):
            zc.buildout.buildout.Options.__init__(self, buildout, name, dict(values))
            self._cooked = dict(values)
            self._live = live

        def get(self, option, default=None, seen=None):
            # The values are evaluated already: no substitution happens here.
            try:
                return self._data[option]
            except KeyError:
                pass
            value = self._cooked.get(option)
            if value is None:
                value = self._raw.get(option)
            if value is None:
                return default
            if self._live:
                # buildout counts it as used (its unused-option warning), as zc.buildout does.
                CHANNEL.call('get', section=self.name, option=option)
            self._data[option] = value
            return value

        def __setitem__(self, option, value):
            zc.buildout.buildout.Options.__setitem__(self, option, value)
            if self._live:
                CHANNEL.call('set', section=self.name, option=option, value=value)

        def __delitem__(self, key):
            if self._live:
                raise zc.buildout.UserError(
                    "buildout's Python bridge cannot delete option %s of section %s "
                    "from another part's recipe" % (key, self.name))
            zc.buildout.buildout.Options.__delitem__(self, key)

        def query_bool(self, name, default=None):
            if default is not None:
                value = self.setdefault(name, default)
            else:
                value = self.get(name)
                if value is None:
                    return None
            return _bool(name, value)

        def get_bool(self, name):
            return _bool(name, self[name])

        def _values(self):
            values = {}
            for key in self.keys():
                if key in self._data:
                    values[key] = self._data[key]
                elif key in self._cooked:
                    values[key] = self._cooked[key]
                else:
                    values[key] = self._raw[key]
            return values

    return Options


class Buildout(MutableMapping):
    """The `buildout` a recipe is given: sections by name, evaluated by buildout."""

    def __init__(self, directory, summary):
        self._sections = {}
        self._parts = {}
        self._buildout_dir = directory
        self._logger = logging.getLogger('zc.buildout')
        self.offline = summary.get('offline') == 'true'
        self.newest = (not self.offline) and summary.get('newest') == 'true'
        self._links = ()
        self._allow_hosts = ()

    def __getitem__(self, name):
        if name in self._parts:
            return self._parts[name]
        if name in self._sections:
            return self._sections[name]
        values = CHANNEL.call('section', section=name)
        # Reading it may have constructed it, when it is a Python part.
        if name in self._parts:
            return self._parts[name]
        if values is None:
            import zc.buildout.buildout
            raise zc.buildout.buildout.MissingSection(name)
        options = self.Options(self, name, values, True)
        self._sections[name] = options
        return options

    def __setitem__(self, name, data):
        raise _user_error_class()(
            "buildout's Python bridge cannot add section %s from a recipe" % name)

    def __delitem__(self, name):
        raise _user_error_class()(
            "buildout's Python bridge cannot remove section %s from a recipe" % name)

    def __iter__(self):
        raise _user_error_class()(
            "buildout's Python bridge cannot list the sections to a recipe")

    def __len__(self):
        raise _user_error_class()(
            "buildout's Python bridge cannot count the sections for a recipe")

    def _buildout_path(self, name):
        if '${' in name:
            return name
        return os.path.join(self._buildout_dir, name)


class Bridge:
    """What the ops do."""

    def __init__(self):
        self.buildout = None
        self.recipes = {}
        self.options = {}
        self.reported = set()
        self.added = set()

    # -- the ops ---------------------------------------------------------------------------

    def init(self, message):
        for entry in reversed(message['path']):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        import zc.buildout  # filters setuptools' deprecation warnings, as under zc.buildout
        import zc.buildout.buildout
        import zc.buildout.easy_install
        directory = message['directory']
        os.chdir(directory)
        Buildout.Options = _options_class()
        self.buildout = Buildout(directory, message['buildout'])
        root = logging.getLogger()
        root.handlers[:] = [BuildoutLogHandler()]
        root.setLevel(1)
        self._set_up_installer(message['buildout'], message.get('own') or [])
        self._set_up_pip(message['site'])
        return {}

    def _set_up_pip(self, site):
        # zc.buildout runs pip with its own distributions on PYTHONPATH. Ours are eggs whose
        # metadata directories are named as zc.buildout 6 names them
        # (`setuptools-84.2.1-py3.11-linux-x86_64.dist-info`), from which pip reads the version
        # `84.2.1-py3.11-linux-x86_64` and stops. pip gets a directory of links instead, with
        # the metadata under the names pip parses.
        import zc.buildout.easy_install as ei
        for location in ei.pip_path:
            if not os.path.isdir(location) or not location.endswith('.egg'):
                return
        os.makedirs(site, exist_ok=True)
        for location in ei.pip_path:
            for name in os.listdir(location):
                target = os.path.join(location, name)
                link = name
                if name.endswith('.dist-info'):
                    link = _dist_info_name(target) or name
                path = os.path.join(site, link)
                if not os.path.lexists(path):
                    os.symlink(target, path)
        ei.pip_path = [site]
        ei.pip_pythonpath = site
        ei.setuptools_path = [site]
        ei.setuptools_pythonpath = site

    def _set_up_installer(self, summary, own):
        # What zc.buildout's Buildout sets before any recipe runs, for recipes that call
        # zc.buildout.easy_install themselves (zc.recipe.egg and those built on it).
        import zc.buildout.easy_install as ei
        from packaging.utils import canonicalize_name
        options = self.buildout['buildout']
        links = options.get('find-links', '')
        self.buildout._links = tuple(links.split()) if links else ()
        hosts = options.get('allow-hosts', '*')
        self.buildout._allow_hosts = tuple(h.strip() for h in hosts.split('\n') if h.strip())
        versions_section = options.get('versions', '')
        versions = dict(self.buildout[versions_section]._values()) if versions_section else {}
        self.buildout.versions = versions
        # zc.buildout runs from a venv, and its installer sees the distributions there
        # (zc.buildout, zc.recipe.egg, setuptools, pip, wheel, packaging, platformdirs) as
        # develop distributions: a recipe that asks for one (collective.recipe.backup's scripts
        # want zc.buildout, hence wheel) gets it as it is, without looking at the index and
        # without it counting as picked, so `allow-picked-versions = false` needs no pin for
        # it. Here they are eggs, which the installer would look up and report as picked;
        # pinned at the versions this process runs, they are taken as they are too. The
        # project's own pins come first.
        installer_versions = dict(versions)
        pinned = {canonicalize_name(name) for name in versions}
        for name, version in own:
            if canonicalize_name(name) not in pinned:
                installer_versions[name] = version
        ei.default_versions(installer_versions)
        ei.prefer_final(options.get('prefer-final', 'true') == 'true')
        ei.use_dependency_links(options.get('use-dependency-links', 'true') == 'true')
        ei.index_url(options.get('index', '').strip())
        ei.allow_picked_versions(options.get('allow-picked-versions', 'true') == 'true')
        show = options.get('show-picked-versions', 'false') == 'true'
        ei.store_required_by(show or bool(options.get('update-versions-file', '')))
        cache = options.get('download-cache', '')
        if cache:
            cache = os.path.join(options['directory'], cache, 'dist')
            os.makedirs(cache, exist_ok=True)
            ei.download_cache(cache)
        if options.get('install-from-cache', 'false') == 'true':
            ei.install_from_cache(True)

    def _add_path(self, entries):
        import pkg_resources
        for entry in entries:
            if entry in self.added:
                continue
            self.added.add(entry)
            # As zc.buildout adds a recipe's distributions: on sys.path, with namespace
            # packages fixed up.
            pkg_resources.working_set.add_entry(entry)
            if entry not in sys.path:
                sys.path.append(entry)

    def _load(self, message, group):
        import pkg_resources
        self._add_path(message['path'])
        requirement = pkg_resources.Requirement.parse(message['requirement'])
        __doing__ = ('Loading %s recipe entry %s:%s.', group, message['requirement'], message['entry'])
        try:
            return pkg_resources.load_entry_point(requirement.project_name, group, message['entry'])
        except pkg_resources.VersionConflict as e:
            # As zc.buildout words a conflict, not pkg_resources' tuple.
            import zc.buildout
            lines = ['There is a version conflict.', 'We already have: %s' % (e.dist,)]
            for name in sorted(getattr(e, 'required_by', None) or ()):
                dist = pkg_resources.working_set.by_key.get(name.lower(), name)
                lines.append('but %s requires %r.' % (dist, str(e.req)))
            raise zc.buildout.UserError('\n'.join(lines))

    def construct(self, message):
        part = message['part']
        recipe_class = self._load(message, 'zc.buildout')
        options = self.buildout.Options(self.buildout, part, message['options'], False)
        self.buildout._parts[part] = options
        self.buildout._sections.pop(part, None)
        try:
            recipe = recipe_class(self.buildout, part, options)
        except BaseException:
            del self.buildout._parts[part]
            raise
        # From now on another recipe that sets one of these options sets it in buildout too.
        options._live = True
        self.recipes[part] = recipe
        self.options[part] = options
        return {'options': options._values(), 'used': sorted(options._data)}

    def install(self, message):
        part = message['part']
        recipe = self.recipes[part]
        result = self._call(part, recipe.install)
        if result is None:
            self.buildout._logger.warning(
                "The %s install returned None.  A path or iterable os paths should be "
                "returned.", part)
            result = ()
        return self._installed(part, result)

    def update(self, message):
        part = message['part']
        recipe = self.recipes[part]
        update = getattr(recipe, 'update', None)
        if update is None:
            return {'no_update': True}
        return self._installed(part, self._call(part, update))

    def uninstall(self, message):
        part = message['part']
        try:
            uninstaller = self._load(message, 'zc.buildout.uninstall')
        except (ImportError, LookupError) as e:
            # zc.buildout's message when a recipe has no uninstall entry.
            logging.getLogger('zc.buildout').log(
                1, "Couldn't load %s entry point %s\nfrom %s:\n%s.",
                'zc.buildout.uninstall', message['entry'], message['requirement'], e)
            return {}
        logging.getLogger('zc.buildout').info('Running uninstall recipe.')
        uninstaller(part, dict(message['options']))
        return {}

    # -- helpers -------------------------------------------------------------------------

    def _call(self, part, method):
        # zc.buildout's Options._call: run in the buildout directory, and remove what the
        # recipe registered with options.created() if it fails.
        options = self.options[part]
        directory = self.buildout._buildout_dir
        options._created = []
        try:
            try:
                os.chdir(directory)
                return method()
            except BaseException:
                for path in options._created:
                    if os.path.isdir(path):
                        import shutil
                        shutil.rmtree(path)
                    elif os.path.isfile(path):
                        os.remove(path)
                    else:
                        self.buildout._logger.warning("Couldn't clean up %r.", path)
                raise
        finally:
            options._created = None
            os.chdir(directory)

    def _installed(self, part, result):
        if result is None:
            paths = None
        elif isinstance(result, str):
            paths = [result]
        else:
            paths = [str(p) for p in result]
        self._report_picked()
        return {'paths': paths, 'used': sorted(self.options[part]._data)}

    def _report_picked(self):
        # Versions zc.buildout's installer picked for a recipe (zc.recipe.egg's working sets):
        # buildout lists them at the end of the run with the others.
        try:
            from zc.buildout.easy_install import Installer
        except ImportError:
            return
        picked = getattr(Installer, '_picked_versions', {})
        required = getattr(Installer, '_required_by', {})
        new = []
        for name in sorted(picked):
            if name in self.reported:
                continue
            self.reported.add(name)
            new.append({'name': name, 'version': picked[name],
                        'required_by': sorted(required.get(name, ()))})
        if new:
            CHANNEL.call('picked', versions=new)


def _dist_info_name(directory):
    """`name-version.dist-info` for a metadata directory, from its METADATA."""
    name = version = None
    try:
        with open(os.path.join(directory, 'METADATA'), encoding='utf-8') as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(':')
                if key == 'Name':
                    name = value.strip()
                elif key == 'Version':
                    version = value.strip()
    except OSError:
        return None
    if not name or not version:
        return None
    return '%s-%s.dist-info' % (name.replace('-', '_'), version)


def _doing(tb):
    """The `__doing__` steps of the frames a traceback went through, outermost first: what
    zc.buildout prints under `While:`."""
    steps = []
    while tb is not None:
        doing = tb.tb_frame.f_locals.get('__doing__')
        if doing:
            if not isinstance(doing, str):
                doing = doing[0] % doing[1:]
            steps.append(doing)
        tb = tb.tb_next
    return steps


def main():
    global CHANNEL
    # buildout unpacks wheels without compiling them (pip compiles what it installs): where
    # PYTHONDONTWRITEBYTECODE is set, every run would compile zc.buildout, pip and setuptools
    # again, which takes longer than the whole run. What this process imports is kept compiled.
    sys.dont_write_bytecode = False
    CHANNEL = Channel(sys.argv[1])
    bridge = Bridge()
    ops = {
        'init': bridge.init,
        'construct': bridge.construct,
        'install': bridge.install,
        'update': bridge.update,
        'uninstall': bridge.uninstall,
    }

    def serve(message):
        try:
            reply = ops[message['op']](message)
        except HostError as e:
            wire = dict(e.wire)
            wire['doing'] = _doing(sys.exc_info()[2]) + list(wire.get('doing') or [])
            CHANNEL.send({'error': wire})
        except BaseException as e:
            kind = 'user'
            try:
                if not isinstance(e, _user_error_class()):
                    kind = 'internal'
            except ImportError:
                kind = 'internal'
            message_text = str(e)
            if isinstance(e, KeyboardInterrupt):
                message_text = 'Interrupted'
            CHANNEL.send({'error': {
                'kind': kind,
                'message': message_text,
                'doing': _doing(sys.exc_info()[2]),
                'detail': ''.join(traceback.format_exception(type(e), e, e.__traceback__)),
                'exception': type(e).__name__,
            }})
        else:
            CHANNEL.send({'reply': reply})

    CHANNEL.serve_op = serve
    while True:
        serve(CHANNEL.receive())


if __name__ == '__main__':
    main()
