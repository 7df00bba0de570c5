package dev.bpfagent.kubernetes.control;

import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;

/** Informer handlers that hand every add, update and delete to one consumer (which enqueues a key). */
public final class Handlers {
    private Handlers() {
    }

    /** Starts the informers and returns when every cache is filled; says which resource could not be listed. */
    public static void startAll(List<SharedIndexInformer<?>> informers) {
        for (SharedIndexInformer<?> i : informers) {
            try {
                i.start().toCompletableFuture().get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while the caches fill", e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("cannot list and watch " + i.getApiTypeClass().getSimpleName()
                        + " resources: " + e.getCause().getMessage(), e.getCause());
            }
        }
    }

    public static <T> ResourceEventHandler<T> each(Consumer<T> on) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                on.accept(obj);
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                on.accept(newObj);
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                on.accept(obj);
            }
        };
    }
}
