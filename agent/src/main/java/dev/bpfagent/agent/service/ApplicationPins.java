package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.BpfObject;
import dev.bpfagent.agent.bpf.Link;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.service.AppState.App;
import dev.bpfagent.agent.service.AppState.Att;
import dev.bpfagent.agent.service.AppState.MapMember;
import dev.bpfagent.agent.service.AppState.Obj;
import dev.bpfagent.agent.service.AppState.ProgMember;
import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.Application;
import dev.bpfagent.proto.v1.ApplicationObject;
import dev.bpfagent.proto.v1.ApplicationRecord;
import dev.bpfagent.proto.v1.AttachmentStatus;
import dev.bpfagent.proto.v1.HeldAttachment;
import dev.bpfagent.proto.v1.HeldMap;
import dev.bpfagent.proto.v1.HeldObject;
import dev.bpfagent.proto.v1.HeldProgram;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * An application's kernel objects pinned under the agent's bpffs directory, at _apps/NAME/prog_ID,
 * map_ID and link_ID, so that they outlive the agent; and at start, held again from those pins as the
 * application's record names them. Pins are named by kernel id: a pin there is the object the record
 * names, or none. An object with a pin missing (a reboot emptied bpffs, someone removed it) is not held
 * again, and the reconcile loads it anew.
 */
final class ApplicationPins {
    private static final Logger LOG = Logger.getLogger(ApplicationPins.class.getName());
    private static final String FIELD = "application";
    private final Registry registry;
    private final PinPaths pins;

    ApplicationPins(Registry registry, PinPaths pins) {
        this.registry = registry;
        this.pins = pins;
    }

    Path pinOf(String app, Registry.Key k) {
        String kind = switch (k.kind()) {
            case PROGRAM -> "prog";
            case MAP -> "map";
            case LINK -> "link";
            default -> throw new IllegalArgumentException(k + " is not pinned for applications");
        };
        return pins.app(app).resolve(kind + "_" + k.id());
    }

    /** Every kernel object the application holds. */
    static List<Registry.Key> keys(App app) {
        List<Registry.Key> out = new ArrayList<>();
        app.objects.values().forEach(o -> {
            o.maps().values().forEach(m -> out.add(m.key()));
            o.programs().values().forEach(p -> out.add(p.key()));
        });
        app.atts.values().forEach(a -> {
            if (a.link != null) {
                out.add(a.link);
            }
        });
        return out;
    }

    /**
     * Pins what the application holds and has no pin of yet. Links the kernel does not number (netlink
     * XDP, PROG_ATTACH, perf ioctl) cannot be pinned: after a restart they are attached again. A pin that
     * cannot be made is logged; the object runs on, and is loaded anew after a restart.
     */
    void pinAll(App app) {
        for (Registry.Key k : keys(app)) {
            Registry.Entry e = registry.find(k);
            if (e == null || k.kind() == Registry.Kind.LINK
                    && e.object(Link.class).mechanism() != Link.Mechanism.BPF_LINK) {
                continue;
            }
            Path p = pinOf(app.name, k);
            if (e.hasPin(p)) {
                continue;
            }
            try {
                e.pinUnrecorded(p, () -> pins.pin(p, e.object(), FIELD));
            } catch (RuntimeException ex) {
                if (Files.exists(p)) {
                    e.holdPin(p); // named by id, and an id is not reused while a pin holds it: it is this one
                } else {
                    LOG.warning("application " + app.name + ": cannot pin " + k + " at " + p + " (it runs on, but"
                            + " an agent restart loads it anew): " + ex.getMessage());
                }
            }
        }
    }

    /** Removes the application's own pin of an entry that stays (a map other applications share). */
    void unpinOwn(App app, Registry.Entry e) {
        Path p = pinOf(app.name, e.key());
        if (e.hasPin(p)) {
            try {
                pins.remove(p, FIELD);
            } catch (RuntimeException ex) {
                LOG.warning("cannot remove the pin " + p + " (remove it by hand): " + ex.getMessage());
            }
            e.forgetPin(p);
        }
    }

    /** Removes the pins of an entry about to close (the application's, and any a caller made of it). */
    void unpin(Registry.Entry e) {
        for (Path p : e.pins()) {
            try {
                pins.remove(p, FIELD);
            } catch (RuntimeException ex) {
                LOG.warning("cannot remove the pin " + p + " of " + e.key() + " (remove it by hand): " + ex.getMessage());
            }
            e.forgetPin(p);
        }
    }

    /** The durable record: the application as last accepted, and what it holds. */
    static ApplicationRecord record(App app, Application view) {
        ApplicationRecord.Builder r = ApplicationRecord.newBuilder().setApplication(view);
        app.objects.forEach((name, o) -> {
            HeldObject.Builder ho = HeldObject.newBuilder().setName(name).setLoadKey(o.loadKey());
            o.maps().forEach((mn, m) -> ho.addMaps(HeldMap.newBuilder().setName(mn).setId(m.key().id())
                    .setKept(m.kept()).setShare(m.share())));
            o.programs().forEach((pn, p) -> ho.addPrograms(HeldProgram.newBuilder().setName(pn).setId(p.key().id())
                    .setTag(p.tag()).setInsnDigest(p.digest()).addAllMapIds(p.maps().stream()
                            .map(Registry.Key::id).sorted().toList())));
            r.addObjects(ho);
        });
        app.atts.forEach((key, a) -> {
            if (a.link != null && a.state == AttachmentStatus.State.STATE_ATTACHED) {
                r.addAttachments(HeldAttachment.newBuilder().setTargetKey(key).setLinkId(a.link.id())
                        .setProgramId(a.program.id()));
            }
        });
        return r.build();
    }

    /**
     * At start: holds again every object of the record whose pins are all there with the recorded ids,
     * and every link whose target the spec still asks for. A link an apply had moved to a program it never
     * recorded (the agent died in between) is put back on the recorded program. What is not held again
     * is left for the reconcile to make, and its leftover pins for {@link #sweep}.
     *
     * @return how many objects and links were held again
     */
    int adopt(App app, ApplicationRecord r, Map<String, ApplicationSpecs.Target> targets, Map<String, String> labels) {
        Set<String> inSpec = app.spec.getObjectsList().stream().map(ApplicationObject::getName)
                .collect(Collectors.toSet());
        int held = 0;
        for (HeldObject ho : r.getObjectsList()) {
            if (!inSpec.contains(ho.getName())) {
                continue;
            }
            List<Registry.Entry> made = new ArrayList<>();
            try {
                Map<String, MapMember> maps = new LinkedHashMap<>();
                for (HeldMap hm : ho.getMapsList()) {
                    Registry.Entry e = hold(app, Registry.Kind.MAP, hm.getId(), labels, Set.of(), made);
                    maps.put(hm.getName(), new MapMember(e.key(), hm.getKept(), hm.getShare()));
                }
                Map<String, ProgMember> progs = new LinkedHashMap<>();
                for (HeldProgram hp : ho.getProgramsList()) {
                    Set<Registry.Key> deps = hp.getMapIdsList().stream()
                            .map(id -> new Registry.Key(Registry.Kind.MAP, id)).collect(Collectors.toSet());
                    Registry.Entry e = hold(app, Registry.Kind.PROGRAM, hp.getId(), labels, deps, made);
                    progs.put(hp.getName(), new ProgMember(e.key(), hp.getTag(), hp.getInsnDigest(), deps));
                }
                app.objects.put(ho.getName(), new Obj(ho.getLoadKey(), maps, progs, null));
                held += made.size();
            } catch (RuntimeException e) {
                LOG.info("application " + app.name + ": object " + ho.getName() + " is not held again (it is loaded"
                        + " anew): " + e.getMessage());
                release(made);
            }
        }
        for (HeldAttachment ha : r.getAttachmentsList()) {
            ApplicationSpecs.Target t = targets.get(ha.getTargetKey());
            Obj o = t == null ? null : app.objects.get(t.object());
            ProgMember pm = o == null ? null : o.programs().get(t.program());
            if (pm == null || pm.key().id() != ha.getProgramId()) {
                continue; // the rule or its program is gone: the sweep removes the pin
            }
            Path p = pinOf(app.name, new Registry.Key(Registry.Kind.LINK, ha.getLinkId()));
            Link l = null;
            try {
                l = Link.fromPinned(p.toString());
                if (l.id() != ha.getLinkId()) {
                    throw new IllegalStateException(p + " holds link " + l.id());
                }
                if (l.programId() != pm.key().id()) {
                    l.update(registry.get(pm.key()).object(Program.class), null);
                    LOG.info("application " + app.name + ": link " + l.id() + " ran a program never recorded:"
                            + " put back on program " + pm.key().id());
                }
                Registry.Entry e = registry.add(Registry.Kind.LINK, l, app.owner, labels, Set.of(pm.key()));
                l = null;
                e.holdPin(p);
                Att a = new Att(t);
                a.link = e.key();
                a.program = pm.key();
                a.state = AttachmentStatus.State.STATE_ATTACHED;
                app.atts.put(t.key(), a);
                held++;
            } catch (RuntimeException e) {
                if (l != null) {
                    l.close();
                }
                LOG.info("application " + app.name + ": link " + ha.getLinkId() + " is not held again (it is made"
                        + " anew): " + e.getMessage());
            }
        }
        return held;
    }

    private Registry.Entry hold(App app, Registry.Kind kind, int id, Map<String, String> labels,
                                Set<Registry.Key> deps, List<Registry.Entry> made) {
        Path p = pinOf(app.name, new Registry.Key(kind, id));
        BpfObject o = kind == Registry.Kind.MAP ? BpfMap.fromPinned(p.toString()) : Program.fromPinned(p.toString());
        if (o.id() != id) {
            o.close();
            throw new IllegalStateException(p + " holds " + kind + " " + o.id() + ", not " + id);
        }
        boolean heldAlready = registry.find(new Registry.Key(kind, id)) != null; // a map another application shares
        Registry.Entry e = registry.add(kind, o, app.owner, labels, deps);
        e.holdPin(p);
        if (!heldAlready) {
            made.add(e);
        }
        return e;
    }

    /** Lets go of entries held again in part: their pins stay for the sweep. */
    private void release(List<Registry.Entry> made) {
        for (int i = made.size() - 1; i >= 0; i--) {
            Registry.Entry e = made.get(i);
            e.pins().forEach(e::forgetPin);
            try {
                for (Registry.Entry gone : registry.beginClose(e.key(), true)) {
                    registry.remove(gone);
                    gone.object().close();
                }
            } catch (RuntimeException ex) {
                LOG.fine("releasing " + e.key() + ": " + ex.getMessage());
            }
        }
    }

    /**
     * At start, after every application is held again: removes the pins under _apps no application
     * holds (a crash between an apply's pins and its record, a delete that removed the record, an
     * object that could not be held again), and so the kernel objects only they kept.
     *
     * @return how many pins were removed
     */
    int sweep(Collection<App> apps) {
        Path root = pins.apps();
        if (!Files.isDirectory(root)) {
            return 0;
        }
        Set<Path> held = new HashSet<>();
        for (App app : apps) {
            for (Registry.Key k : keys(app)) {
                Registry.Entry e = registry.find(k);
                if (e != null) {
                    held.addAll(e.pins());
                }
            }
        }
        int removed = 0;
        List<Path> files;
        try (var walk = Files.walk(root)) {
            files = walk.filter(f -> !Files.isDirectory(f)).sorted().toList();
        } catch (IOException e) {
            LOG.warning("cannot walk " + root + ": " + e.getMessage());
            return 0;
        }
        for (Path f : files) {
            if (held.contains(f)) {
                continue;
            }
            try {
                if (pins.remove(f, FIELD)) {
                    removed++;
                }
            } catch (RuntimeException e) {
                LOG.warning("cannot remove the stray application pin " + f + ": " + e.getMessage());
            }
        }
        if (removed > 0) {
            LOG.info("removed " + removed + " pin(s) under " + root + " no application holds");
        }
        return removed;
    }
}
