package dev.bpfagent.kubernetes.image;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An OCI image reference: {@code registry[:port]/repository[:tag][@sha256:HEX]}. The registry is the
 * first path part when it has a dot or a colon or is "localhost" (as docker reads references); there is
 * no default registry, since bytecode images name theirs.
 */
public record ImageReference(String registry, String repository, String tag, String digest) {
    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
    private static final Pattern REPO = Pattern.compile("[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");

    /** Parses a reference; IllegalArgumentException says what is wrong with it. */
    public static ImageReference parse(String ref) {
        if (ref == null || ref.isEmpty()) {
            throw new IllegalArgumentException("an image reference is required (registry/repository@sha256:...)");
        }
        String rest = ref;
        String digest = null;
        int at = rest.indexOf('@');
        if (at >= 0) {
            digest = rest.substring(at + 1);
            rest = rest.substring(0, at);
            if (!DIGEST.matcher(digest).matches()) {
                throw new IllegalArgumentException("'" + ref + "': the digest must be sha256: and 64 lower-case hex digits");
            }
        }
        int slash = rest.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("'" + ref + "' names no registry: write it as registry[:port]/repository");
        }
        String registry = rest.substring(0, slash);
        if (!(registry.contains(".") || registry.contains(":") || registry.equals("localhost"))) {
            throw new IllegalArgumentException("'" + ref + "' names no registry (its first part '" + registry
                    + "' has no dot or port): write it as registry[:port]/repository");
        }
        String path = rest.substring(slash + 1);
        String tag = null;
        int colon = path.lastIndexOf(':');
        if (colon >= 0) {
            tag = path.substring(colon + 1);
            path = path.substring(0, colon);
            if (!TAG.matcher(tag).matches()) {
                throw new IllegalArgumentException("'" + ref + "': the tag '" + tag + "' is not a valid tag");
            }
        }
        if (!REPO.matcher(path).matches()) {
            throw new IllegalArgumentException("'" + ref + "': the repository '" + path + "' is not a valid name");
        }
        if (tag == null && digest == null) {
            tag = "latest";
        }
        return new ImageReference(registry, path, tag, digest);
    }

    /** What the manifest is asked for by: the digest when there is one, else the tag. */
    public String manifestRef() {
        return digest != null ? digest : tag;
    }

    /** Loopback registries are spoken to over plain HTTP; all others over HTTPS. */
    public boolean plainHttp() {
        Matcher m = Pattern.compile("^(localhost|127\\.\\d+\\.\\d+\\.\\d+|\\[::1\\])(:\\d+)?$").matcher(registry);
        return m.matches();
    }

    @Override
    public String toString() {
        return registry + "/" + repository + (tag != null ? ":" + tag : "") + (digest != null ? "@" + digest : "");
    }
}
