package org.zfsbackup.mqtt;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS for {@code ssl://} broker URLs with {@code mqtt.ca_file}; shared by the agent and {@code
 * check}.
 */
public final class TlsSockets {
  private TlsSockets() {}

  /** {@code ssl://} in any case, as the config and Paho accept it. */
  public static boolean isTls(String url) {
    return url.regionMatches(true, 0, "ssl://", 0, 6);
  }

  /**
   * An SSL socket factory that trusts exactly the CA certificates in {@code caFile} (PEM or DER).
   */
  public static SSLSocketFactory trusting(Path caFile) {
    try (InputStream in = Files.newInputStream(caFile)) {
      Collection<? extends Certificate> certs =
          CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (certs.isEmpty()) {
        throw new IllegalArgumentException("mqtt.ca_file " + caFile + " holds no certificate");
      }
      KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
      trust.load(null, null);
      int i = 0;
      for (Certificate c : certs) {
        trust.setCertificateEntry("ca-" + i++, c);
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(null, tmf.getTrustManagers(), null);
      return ssl.getSocketFactory();
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("mqtt.ca_file " + caFile + ": " + e.getMessage(), e);
    }
  }
}
