package dev.bpfagent.kubernetes.node;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.kubernetes.image.BytecodeImage;
import dev.bpfagent.kubernetes.image.ImagePuller;
import dev.bpfagent.kubernetes.image.ImagePuller.PullException;
import dev.bpfagent.kubernetes.image.ImageReference;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Objects whose source is an OCI image ({@code source: {image: {reference: REGISTRY/REPO@sha256:...}}}, the
 * Kubernetes layer's one addition to the proto's ObjectSource): the image is pulled and verified, its
 * object uploaded to the agent's blob store, and the spec the agent gets names the blob's sha256. A
 * manifest digest whose blob the agent already holds is not pulled again (the digest-to-blob map lives
 * here and in the node's status, so a restarted controller knows it too).
 */
final class Bytecode {
    private final ImagePuller puller;
    private final BpfClient agent;
    /** Manifest digest -> the sha256 of the object uploaded for it. */
    private final Map<String, String> uploaded = new ConcurrentHashMap<>();
    /** Blobs the agent said it lacks, until uploaded again. */
    private final Set<String> missing = ConcurrentHashMap.newKeySet();
    private volatile int pulls;

    Bytecode(ImagePuller puller, BpfClient agent) {
        this.puller = puller;
        this.agent = agent;
    }

    /** What an image object resolved to, as the node status lists it. */
    record Resolved(List<Map<String, Object>> objects, List<Map<String, Object>> images) {
    }

    /** Learns digest-to-blob pairs from a node status written earlier (not those the agent said it lacks). */
    void remember(List<Map<String, Object>> images) {
        for (Map<String, Object> i : images) {
            Object d = i.get("digest");
            Object s = i.get("blobSha256");
            if (d instanceof String ds && s instanceof String ss && !missing.contains(ss)) {
                uploaded.putIfAbsent(ds, ss);
            }
        }
    }

    /**
     * Forgets the blobs the agent no longer has (BLOB_NOT_FOUND: the agent drops a blob no application
     * uses any more): the next resolve pulls again, and a node status naming them is not believed.
     */
    void forget() {
        missing.addAll(uploaded.values());
        uploaded.clear();
    }

    /** How many images were pulled (for tests and logs). */
    int pulls() {
        return pulls;
    }

    /**
     * The objects with every image source replaced by the blob it was uploaded as.
     *
     * @throws IllegalArgumentException a reference that cannot be right (permanent: InvalidSpec)
     * @throws PullException the registry's answer (reason ImageNotFound, DigestMismatch, ...)
     */
    @SuppressWarnings("unchecked")
    Resolved resolve(List<Map<String, Object>> objects) throws PullException {
        List<Map<String, Object>> out = new ArrayList<>();
        List<Map<String, Object>> images = new ArrayList<>();
        for (int i = 0; i < objects.size(); i++) {
            Map<String, Object> o = objects.get(i);
            Object source = o.get("source");
            if (!(source instanceof Map<?, ?> src) || !(src.get("image") instanceof Map<?, ?> image)) {
                out.add(o);
                continue;
            }
            if (src.size() > 1) {
                throw new IllegalArgumentException("spec.objects[" + i + "].source: image and " + src.keySet()
                        + " together: a source is one of elf, path, blobSha256 and image");
            }
            Object r = image.get("reference");
            ImageReference ref;
            try {
                ref = ImageReference.parse(r instanceof String s ? s : null);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("spec.objects[" + i + "].source.image.reference: " + e.getMessage());
            }
            String digest = ref.digest() != null ? ref.digest() : puller.resolve(ref);
            String sha = uploaded.get(digest);
            if (sha == null) {
                BytecodeImage img = puller.pull(ref);
                pulls++;
                sha = agent.applications().uploadBlob(img.elf());
                uploaded.put(img.digest(), sha);
                missing.remove(sha);
                digest = img.digest();
            }
            Map<String, Object> copy = new LinkedHashMap<>(o);
            copy.put("source", Map.of("blobSha256", sha));
            out.add(copy);
            Map<String, Object> st = new LinkedHashMap<>();
            st.put("object", String.valueOf(o.get("name")));
            st.put("reference", ref.toString());
            st.put("digest", digest);
            st.put("blobSha256", sha);
            images.add(st);
        }
        return new Resolved(out, images);
    }
}
