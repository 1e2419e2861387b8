package local.orchestrator.registry;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.List;
import javax.enterprise.context.ApplicationScoped;
import javax.enterprise.inject.Produces;

/** Stands in for the config-index extension's build step (its deployment module is not on
 *  Maven Central): no property is listed as dynamically configurable. */
@ApplicationScoped
public class DynamicConfigPropertiesProducer {
    @Produces
    @ApplicationScoped
    DynamicConfigPropertyList dynamicConfigProperties() {
        return new DynamicConfigPropertyList(List.of());
    }
}
